// data/image_folder.cpp -- image folder and list file datasets (see image_folder.h).
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "io/path.h"
#include "io/read_file.h"

namespace dlbhc {

namespace fs = std::filesystem;

namespace {

bool has_image_extension(const std::string& name) {
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    std::string ext = name.substr(dot + 1);
    for (auto& ch : ext) ch = (char)std::tolower((unsigned char)ch);
    return ext == "jpg" || ext == "jpeg" || ext == "jpe" || ext == "png";
}

// Entry names of a folder, sorted by byte order, without "." entries and hidden names.
std::vector<std::string> sorted_entries(const std::string& dir, const std::string& who) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    if (ec) throw std::runtime_error(who + ": cannot list folder '" + dir + "': " + ec.message());
    std::vector<std::string> names;
    for (; it != end; it.increment(ec)) {
        std::string n = it->path().filename().string();
        if (!n.empty() && n[0] != '.') names.push_back(n);
    }
    if (ec) throw std::runtime_error(who + ": error while listing folder '" + dir + "': " + ec.message());
    std::sort(names.begin(), names.end());
    return names;
}

std::string trim(const std::string& s) {
    size_t a = 0, b = s.size();
    while (a < b && std::isspace((unsigned char)s[a])) ++a;
    while (b > a && std::isspace((unsigned char)s[b - 1])) --b;
    return s.substr(a, b - a);
}

// Parses a whole non-negative decimal int; false for anything else (sign, junk, overflow).
bool parse_label(const std::string& s, int& out) {
    if (s.empty() || s.size() > 10) return false;
    long long v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') return false;
        v = v * 10 + (ch - '0');
    }
    if (v > 0x7FFFFFFF) return false;
    out = (int)v;
    return true;
}

}  // namespace

void ImageFolderDataset::admit(const std::vector<Candidate>& cands, const ImageFolderOptions& opt, LoadReport& rep,
                               const std::string& source) {
    max_pixels_ = opt.max_pixels;
    const long n = (long)cands.size();
    std::vector<ImageInfo> infos(cands.size());
    std::vector<std::string> why(cands.size());  // empty = usable
    // Each iteration writes only its own slots, so the outcome is the same for any thread count.
#pragma omp parallel for schedule(dynamic, 8)
    for (long i = 0; i < n; ++i) {
        try {
            if (!probe_image_file(cands[i].path, infos[i], why[i], opt.max_pixels)) continue;
            if (opt.verify) {
                Image img;
                load_image(cands[i].path, img, true, opt.max_pixels);
            }
        } catch (const std::exception& e) {
            why[i] = e.what();
        } catch (...) {
            why[i] = "unknown error";
        }
    }
    for (size_t i = 0; i < cands.size(); ++i) {
        if (!why[i].empty()) {
            const std::string msg = cands[i].path + ": " + why[i];
            if (opt.strict) throw std::runtime_error(source + ": unreadable image (strict mode): " + msg);
            ++rep.skipped;
            rep.messages.push_back(msg);
            continue;
        }
        entries_.push_back({cands[i].path, cands[i].label, infos[i]});
    }
    if (entries_.empty())
        throw std::runtime_error(source + ": no readable image found (" + std::to_string(cands.size()) +
                                 " candidates, " + std::to_string(rep.skipped) + " unreadable)");
    common_h_ = entries_[0].info.height;
    common_w_ = entries_[0].info.width;
    for (const auto& e : entries_)
        if (e.info.height != common_h_ || e.info.width != common_w_) common_h_ = common_w_ = 0;
}

FolderListing list_image_folder(const std::string& root) {
    const std::string who = "image folder '" + root + "'";
    if (!is_directory(root)) throw std::runtime_error(who + ": expected a folder, found none");
    FolderListing out;
    for (const auto& cls : sorted_entries(root, who)) {
        const std::string cdir = join_path(root, cls);
        if (!is_directory(cdir)) {
            ++out.ignored;  // a file directly in root
            continue;
        }
        const int label = (int)out.classes.size();
        out.classes.push_back(cls);
        for (const auto& f : sorted_entries(cdir, who)) {
            const std::string p = join_path(cdir, f);
            if (!has_image_extension(f) || is_directory(p)) {
                ++out.ignored;
                continue;
            }
            out.images.push_back({p, label});
        }
    }
    return out;
}

std::unique_ptr<ImageFolderDataset> ImageFolderDataset::from_folder(const std::string& root,
                                                                    const ImageFolderOptions& opt, LoadReport* report) {
    const std::string who = "image folder '" + root + "'";
    FolderListing listing = list_image_folder(root);
    LoadReport local;
    LoadReport& rep = report ? *report : local;
    rep.ignored += listing.ignored;
    if (listing.classes.empty()) throw std::runtime_error(who + ": expected one subfolder per class, found no subfolder");
    std::unique_ptr<ImageFolderDataset> ds(new ImageFolderDataset());
    std::vector<Candidate> cands;
    cands.reserve(listing.images.size());
    for (const auto& e : listing.images) cands.push_back({e.path, e.label});
    ds->class_names_ = std::move(listing.classes);
    ds->num_classes_ = (int)ds->class_names_.size();
    ds->admit(cands, opt, rep, who);
    return ds;
}

std::vector<ListEntry> parse_image_list(const uint8_t* data, size_t size, const std::string& list_file,
                                        const std::string& base, LoadReport& rep) {
    const std::string who = "list file '" + list_file + "'";
    std::vector<ListEntry> out;
    size_t line_no = 0, pos = 0;
    while (pos < size) {
        size_t eol = pos;
        while (eol < size && data[eol] != '\n') ++eol;
        ++line_no;
        const std::string raw(reinterpret_cast<const char*>(data) + pos, eol - pos);
        pos = eol + 1;
        const std::string line = trim(raw);
        if (line.empty()) {
            rep.messages.push_back(list_file + ":" + std::to_string(line_no) + ": blank line skipped");
            continue;
        }
        if (line.find('\0') != std::string::npos)
            throw std::runtime_error(who + ": line " + std::to_string(line_no) + " contains a zero byte (binary file?)");
        const size_t sp = line.find_last_of(" \t");
        int label = -1;
        const std::string path = sp == std::string::npos ? "" : trim(line.substr(0, sp));
        if (path.empty() || !parse_label(line.substr(sp + 1), label) || label > kMaxListLabel) {
            const std::string shown = line.size() > 80 ? line.substr(0, 80) + "..." : line;
            throw std::runtime_error(who + ": line " + std::to_string(line_no) +
                                     ": expected '<path> <label>' with an integer label in 0.." +
                                     std::to_string(kMaxListLabel) + ", found '" + shown + "'");
        }
        out.push_back({join_path(base, path), label});
    }
    if (out.empty()) throw std::runtime_error(who + ": expected '<path> <label>' lines, found none");
    return out;
}

std::unique_ptr<ImageFolderDataset> ImageFolderDataset::from_list(const std::string& list_file,
                                                                  const std::string& root,
                                                                  const ImageFolderOptions& opt, LoadReport* report) {
    const std::string who = "list file '" + list_file + "'";
    const std::vector<uint8_t> bytes = read_file_bytes(list_file, "list file", 1ull << 30);
    LoadReport local;
    LoadReport& rep = report ? *report : local;
    const std::vector<ListEntry> lines =
        parse_image_list(bytes.data(), bytes.size(), list_file, root.empty() ? folder_part(list_file) : root, rep);
    std::unique_ptr<ImageFolderDataset> ds(new ImageFolderDataset());
    std::vector<Candidate> cands;
    cands.reserve(lines.size());
    int max_label = -1;
    for (const auto& e : lines) {
        max_label = std::max(max_label, e.label);
        cands.push_back({e.path, e.label});
    }
    ds->num_classes_ = max_label + 1;  // labels are at most kMaxListLabel: no overflow
    ds->admit(cands, opt, rep, who);
    return ds;
}

void ImageFolderDataset::check_index(size_t i) const {
    if (i >= entries_.size()) throw_index_error("image dataset", i, entries_.size());
}

void ImageFolderDataset::item(size_t i, Image& out) const {
    check_index(i);
    const Entry& e = entries_[i];
    load_image(e.path, out, true, max_pixels_);
    if (out.h != e.info.height || out.w != e.info.width)
        throw std::runtime_error("image file '" + e.path + "': was " + std::to_string(e.info.width) + " x " +
                                 std::to_string(e.info.height) + " when the dataset was loaded, now " +
                                 std::to_string(out.w) + " x " + std::to_string(out.h) + " (file changed?)");
}

int ImageFolderDataset::label(size_t i) const {
    check_index(i);
    return entries_[i].label;
}

std::string ImageFolderDataset::name(size_t i) const {
    check_index(i);
    return entries_[i].path;
}

const ImageInfo& ImageFolderDataset::info(size_t i) const {
    check_index(i);
    return entries_[i].info;
}

}  // namespace dlbhc
