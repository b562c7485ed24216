// apps/net_input.cpp -- see net_input.h.
#include "apps/net_input.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <vector>

#include "apps/net_setup.h"
#include "data/resize.h"
#include "formats/net_builder.h"
#include "nn/conv.h"
#include "nn/pooling.h"

namespace dlbhc {

namespace {

// The name of the image input of `phase` (the first input the builder creates), "" when none.
std::string image_input_name(const NetSpec& spec, Phase phase) {
    if (!spec.inputs.empty()) return spec.inputs[0].name;
    for (const LayerSpec* l : spec.layers_in(phase))
        if ((l->type == "Input" || l->type == "Data" || l->type == "ImageData") && !l->top.empty()) return l->top[0];
    return "";
}

// The channels the weights give the image input: the first Convolution reading it holds
// (OC, C / group, KH, KW). 0 when there is no such layer or the weights lack it.
int weights_channels(const NetSpec& spec, const WeightsFile& w, std::string* layer) {
    const std::string input = image_input_name(spec, Phase::Test);
    for (const LayerSpec* l : spec.layers_in(Phase::Test)) {
        if (l->type != "Convolution" || l->bottom.empty() || l->bottom[0] != input) continue;
        const NamedTensor* t = w.find(l->name + ".weight");
        if (!t || t->dims.size() != 4) return 0;
        *layer = l->name;
        return int(t->dims[1]) * l->settings<ConvParam>().group;
    }
    return 0;
}

// True when every Convolution and Pooling window of the net fed `shapes` ends exactly at the end
// of its (padded) input: no row or column left over (convolution rounds down) and no window
// running past the edge (pooling rounds up). Of the sizes the weights allow, the one a net was
// designed for (28 for the demo net, where 27 gives the same shapes too).
bool windows_fit(const NetSpec& spec, const std::map<std::string, Shape>& shapes) {
    for (const LayerSpec* l : spec.layers_in(Phase::Test)) {
        const bool conv = l->type == "Convolution";
        const bool pool = l->type == "Pooling" && !l->settings<PoolingParam>().global_pooling;
        if ((!conv && !pool) || l->bottom.empty() || l->top.empty()) continue;
        const auto in = shapes.find(l->bottom[0]), out = shapes.find(l->top[0]);
        if (in == shapes.end() || out == shapes.end()) continue;
        int kh, kw, sh, sw, ph, pw;
        auto window = [&](const auto& p) {
            kh = p.kernel_h, kw = p.kernel_w, sh = p.stride_h, sw = p.stride_w, ph = p.pad_h, pw = p.pad_w;
        };
        if (conv) window(l->settings<ConvParam>());
        else window(l->settings<PoolingParam>());
        if ((out->second.h - 1) * sh + kh != in->second.h + 2 * ph ||
            (out->second.w - 1) * sw + kw != in->second.w + 2 * pw)
            return false;
    }
    return true;
}

// The square image sizes s for which the net fed (c, s, s) gives its first InnerProduct the input
// its weights were trained on (weight (O, K): K = C' x H' x W' of its input), ascending; `exact`
// receives those where windows_fit. Empty when the net has no InnerProduct or the weights lack it.
// The input size grows with s (every layer's output size is non-decreasing in its input's), so a
// binary search finds the first s that reaches K and the candidates follow it.
std::vector<int> weights_sizes(const NetSpec& spec, const WeightsFile& w, int c, std::string* layer,
                               std::vector<int>* exact) {
    const LayerSpec* ip = nullptr;
    for (const LayerSpec* l : spec.layers_in(Phase::Test))
        if (l->type == "InnerProduct" && !l->bottom.empty()) {
            ip = l;
            break;
        }
    const NamedTensor* t = ip ? w.find(ip->name + ".weight") : nullptr;
    if (!t || t->dims.empty() || t->dims[0] <= 0) return {};
    const uint64_t k = t->count() / uint64_t(t->dims[0]);
    *layer = ip->name;
    // The flattened input of the InnerProduct at size s; 0 when the net cannot take s.
    auto input_floats = [&](int s, std::map<std::string, Shape>* shapes) -> uint64_t {
        NetBuildOptions bo;
        bo.batch = 1, bo.channels = c, bo.height = bo.width = s;
        try {
            *shapes = blob_shapes(spec, Phase::Test, bo);
        } catch (const std::exception&) {
            return ~uint64_t(0);  // a tensor above the size limits: s is far too large
        }
        const auto it = shapes->find(ip->bottom[0]);
        return it == shapes->end() ? 0 : uint64_t(it->second.c) * uint64_t(it->second.h) * uint64_t(it->second.w);
    };
    std::map<std::string, Shape> shapes;
    int lo = 1, hi = 1 << 14;  // the first s with input_floats(s) >= k lies in [lo, hi]
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        if (input_floats(mid, &shapes) >= k) hi = mid;
        else lo = mid + 1;
    }
    std::vector<int> sizes;
    for (int s = lo; s <= (1 << 14) && input_floats(s, &shapes) == k; ++s) {
        sizes.push_back(s);
        if (windows_fit(spec, shapes)) exact->push_back(s);
    }
    return sizes;
}

// data_source_dims, false when it cannot tell.
bool source_dims(const NetSpec& spec, Phase phase, const PipelineOptions& po, int dims[3], std::string* name) {
    try {
        data_source_dims(spec, phase, po, dims, name);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

std::string chw(int c, int h, int w) { return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w); }

}  // namespace

NetInput trained_net_input(const NetSpec& spec, const PipelineOptions& po, const WeightsFile& w,
                           const TransformParam& tp, const Image& img) {
    NetInput in;
    const int image_channels = img.c;
    const std::vector<int64_t> stated = image_input_dims(spec, Phase::Test);
    const bool shape_stated = encode_data_layer(spec) == nullptr && stated.size() == 4;  // a net-level input or Input layer
    std::string conv, ip, source;  // what told: the layers whose weights, the data layer's source
    in.c = weights_channels(spec, w, &conv);
    if (in.c <= 0 && shape_stated) in.c = int(stated[1]);
    // Only when the data layer's transform does not bring every image to the net's size (crop, resize).
    if (tp.crop <= 0 && tp.resize <= 0) {
        if (shape_stated && stated[2] > 0 && stated[3] > 0) {
            in.h = int(stated[2]), in.w = int(stated[3]);
        } else {
            // The prototxt leaves the size to the data (a Data layer without crop_size): the
            // weights of the first InnerProduct tell it, being made for one input shape, once the
            // channels are known (from the first convolution, else the image's own count or the
            // other of grey and colour).
            std::vector<int> sizes, exact;
            for (int c : {in.c, image_channels, image_channels == 1 ? 3 : 1}) {
                if (c <= 0 || !sizes.empty() || (in.c > 0 && c != in.c)) continue;
                sizes = weights_sizes(spec, w, c, &ip, &exact);
                if (!sizes.empty()) in.c = c;
            }
            // Several sizes give the same shapes: an image of one of them is taken as it is; else
            // it becomes the size of the training data when the source can be opened, else the
            // size every window fits exactly (the one a net was designed for), else the largest.
            auto allowed = [&](int s) { return std::find(sizes.begin(), sizes.end(), s) != sizes.end(); };
            int dims[3];
            std::string name;
            if (img.h == img.w && allowed(img.h)) in.h = in.w = img.h;
            else if (sizes.size() > 1 && source_dims(spec, Phase::Test, po, dims, &name) && dims[0] == in.c &&
                     dims[1] == dims[2] && allowed(dims[1]))
                in.h = in.w = dims[1], source = name;
            else if (!sizes.empty())
                in.h = in.w = !exact.empty() ? exact.back() : sizes.back();
        }
    }
    std::vector<std::string> from;
    if (!conv.empty() || !ip.empty())
        from.push_back("the weights of " + conv + (conv.empty() || ip.empty() ? "" : " and ") + ip);
    if (shape_stated) from.push_back("the net's input shape");
    if (!source.empty()) from.push_back("the data layer's source " + source);
    for (const std::string& f : from) in.from += (in.from.empty() ? "" : " and ") + f;
    return in;
}

Image fit_image_to_net(const Image& img, const std::string& name, const NetInput& in, bool strict) {
    const bool channels = in.c > 0 && in.c != img.c, size = in.h > 0 && (in.h != img.h || in.w != img.w);
    if (!channels && !size) return img;
    const std::string takes = in.h > 0 ? chw(in.c > 0 ? in.c : img.c, in.h, in.w) : std::to_string(in.c) + "-channel";
    const std::string why = "this net takes " + takes + " images; " + name + " is " + chw(img.c, img.h, img.w) +
                            " (learned from " + in.from + ")";
    if (strict) throw std::invalid_argument(why + "; without --no-resize it would be converted");
    if (channels && !((in.c == 1 && img.c == 3) || (in.c == 3 && img.c == 1)))
        throw std::invalid_argument(why + "; only grey and colour images convert into each other");
    Image out = img;
    std::string done;
    if (channels && in.c == 1) out = to_grey(out), done = "grey";
    if (channels && in.c == 3) {
        out = Image(3, img.h, img.w);
        for (int c = 0; c < 3; ++c) std::copy(img.pixels.begin(), img.pixels.end(), out.pixels.begin() + c * img.pixels.size());
        done = "colour";
    }
    if (size) {
        Image resized;
        resize_bilinear(out, in.h, in.w, resized);  // as the data layer's transform resizes (data/resize.h)
        out = std::move(resized);
        done += done.empty() ? "resized" : ", resized";
    }
    std::fprintf(stderr, "%s: %s converted to %s (%s) as the net expects\n", name.c_str(), chw(img.c, img.h, img.w).c_str(),
                 chw(out.c, out.h, out.w).c_str(), done.c_str());
    return out;
}

int trained_input_channels(const NetSpec& spec, const WeightsFile& w) {
    std::string layer;
    return weights_channels(spec, w, &layer);
}

Image to_grey(const Image& img) {
    if (img.c != 3) return img;
    Image g(1, img.h, img.w);
    const size_t n = g.pixels.size();
    for (size_t p = 0; p < n; ++p) g.pixels[p] = uint8_t((img.pixels[p] + img.pixels[p + n] + img.pixels[p + 2 * n]) / 3);
    return g;
}

}  // namespace dlbhc
