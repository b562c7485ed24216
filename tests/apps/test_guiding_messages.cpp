// tests/apps/test_guiding_messages.cpp -- messages that say what to do next:
//   - a query or encode image of another size or channel count than the net takes is converted as
//     the data layer would (and a line says so), or refused with --no-resize before the net is built;
//   - a net given the weights of another net, or a weights file given as the net, is named as such
//     (not a mean-file, pooling-size or "unexpected character" error);
//   - `dlbhc net` builds every net in weights/ with no size flags;
//   - progress lines fit a log file, the load report counts what it lists, every command's --help
//     ends with examples whose options exist, and `make demo` ends with a command that works.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/net_input.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/npy.h"
#include "formats/solver_spec.h"
#include "formats/weights_file.h"
#include "nn/models.h"
#include "search/faiss_export.h"
#include "search/index_file.h"
#include "tests/support/child_process.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::read_all;
using dlbhc::test::TempDir;

namespace {

using Output = test::Captured;

// Runs a shell command line; its exit status (-1 when it did not exit), stdout and stderr in *out.
int shell(const std::string& cmd, const std::string& log, std::string* out) {
    const int st = std::system(("{ " + cmd + "; } >'" + log + "' 2>&1").c_str());
    *out = read_all(log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// An MNIST-format dataset of n random 28x28 images, 4 classes, as DIR/SPLIT.
std::string write_mnist(const TempDir& dir, const std::string& split, uint32_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> pixels(size_t(n) * 784), labels(n);
    for (auto& p : pixels) p = uint8_t(rng() & 255);
    for (auto& l : labels) l = uint8_t(rng() % 4);
    test::write_bytes(dir.file(split + "-images-idx3-ubyte"), test::make_idx({n, 28, 28}, pixels));
    test::write_bytes(dir.file(split + "-labels-idx1-ubyte"), test::make_idx({n}, labels));
    return dir.file(split);
}

// The weights of `net_text` built for (channels, size, size), from its fillers; the net's name and
// file recorded in the metadata as `dlbhc train` records them.
WeightsFile weights_for(const std::string& net_path, int channels, int size) {
    NetBuildOptions bo;
    bo.batch = 1, bo.channels = channels, bo.height = bo.width = size;
    const NetSpec spec = load_net_spec(net_path);
    auto n = build_net(spec, Phase::Test, bo);
    Rng init(7);
    n->init_params(init);
    WeightsFile w = weights_from_net(*n);
    w.set_meta("net.name", spec.name);
    w.set_meta("net.file", net_path);
    return w;
}

Image noise_image(int c, int h, int w, unsigned seed) {
    std::mt19937 rng(seed);
    Image im(c, h, w);
    for (auto& p : im.pixels) p = uint8_t(rng() & 255);
    return im;
}

// The code column of `dlbhc encode` output lines ("name \t label \t code").
std::string code_of(const std::string& line) { return line.substr(line.rfind('\t') + 1); }

// The tiny net of tests/support/tiny_net.h (28x28 grey: 4x4 pooling to 7x7, fc7 32, 16 bits), its
// weights, its dataset (40 images) and an index of it.
struct TinySetup {
    TempDir dir;
    std::string net, weights, data, index;
    TinySetup() {
        net = dir.file("tiny.prototxt");
        test::write_text(net, test::tiny_net_prototxt({}));
        data = write_mnist(dir, "train", 40, 3);
        weights = dir.file("tiny.weights");
        write_weights(weights, weights_for(net, 1, 28));
        index = dir.file("tiny.idx");
        const Output o = test::capture(dir, [&] { cmd_index({"--net", net, "--weights", weights, "--data", data, "--out", index}); });
        REQUIRE_MESSAGE(o.error.empty(), o.error);
    }
};

}  // namespace

TEST_CASE("messages: encode and query convert an image of another size and colour as the net's data would") {
    TinySetup t;
    // A 32x32 colour photo on the 28x28 grey net, and what the dataset transform makes of it.
    const Image photo = noise_image(3, 32, 32, 5);
    Image grey28;
    resize_bilinear(to_grey(photo), 28, 28, grey28);
    const std::string photo_png = t.dir.file("photo.png"), grey_png = t.dir.file("grey28.png");
    save_png(photo_png, photo);
    save_png(grey_png, grey28);
    const std::vector<std::string> common = {"--net", t.net, "--weights", t.weights, "--image"};
    auto encode = [&](const std::string& image, std::vector<std::string> more = {}) {
        std::vector<std::string> args = common;
        args.push_back(image);
        args.insert(args.end(), more.begin(), more.end());
        return test::capture(t.dir, [&] { cmd_encode(args); });
    };
    const Output converted = encode(photo_png), direct = encode(grey_png);
    REQUIRE_MESSAGE(converted.error.empty(), converted.error);
    REQUIRE_MESSAGE(direct.error.empty(), direct.error);
    CHECK_MESSAGE(has(converted.err, photo_png + ": 3x32x32 converted to 1x28x28 (grey, resized) as the net expects\n"),
                  converted.err);
    CHECK(direct.err.find("converted") == std::string::npos);  // an image the net takes is left alone
    CHECK(code_of(converted.out) == code_of(direct.out));

    // --no-resize: refused, naming both sizes, before the net is built (a 1-byte memory limit
    // would stop the build, and does, without --no-resize).
    ::setenv("DLBHC_MAX_NET_BYTES", "1", 1);
    const Output strict = encode(photo_png, {"--no-resize"}), built = encode(photo_png);
    ::unsetenv("DLBHC_MAX_NET_BYTES");
    CHECK_MESSAGE(has(strict.error, "this net takes 1x28x28 images; " + photo_png + " is 3x32x32"), strict.error);
    CHECK_MESSAGE(has(built.error, "DLBHC_MAX_NET_BYTES"), built.error);

    // query --image: the same conversion, the same results as the converted picture's.
    auto query = [&](const std::string& image, std::vector<std::string> more = {}) {
        std::vector<std::string> args = {"--net", t.net, "--weights", t.weights, "--index", t.index, "--image", image,
                                         "--k", "5", "--json"};
        args.insert(args.end(), more.begin(), more.end());
        return test::capture(t.dir, [&] { cmd_query(args); });
    };
    const Output q1 = query(photo_png), q2 = query(grey_png), q3 = query(photo_png, {"--no-resize"});
    REQUIRE_MESSAGE(q1.error.empty(), q1.error);
    REQUIRE_MESSAGE(q2.error.empty(), q2.error);
    CHECK(has(q1.err, photo_png + ": 3x32x32 converted to 1x28x28 (grey, resized) as the net expects"));
    std::string a = q1.out, b = q2.out;
    a.replace(a.find(photo_png), photo_png.size(), "IMG");
    b.replace(b.find(grey_png), grey_png.size(), "IMG");
    CHECK(a == b);
    CHECK_MESSAGE(has(q3.error, "this net takes 1x28x28 images; " + photo_png + " is 3x32x32"), q3.error);
}

TEST_CASE("messages: the input size a net takes comes from its weights, then its data, then exact windows") {
    TempDir dir;
    // Convolution 5x5 at stride 2 before fc7: 27 and 28 both give 12x12, and only 27 fits the
    // windows exactly. The weights alone cannot tell which the net was trained on.
    auto net_text = [](const std::string& source) {
        return R"(name: "Strided"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TEST }
  transform_param { scale: 0.00390625 } data_param { source: ")" + source + R"(" batch_size: 4 } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 2 kernel_size: 5 stride: 2 weight_filler { type: "xavier" } } }
layer { name: "fc7" type: "InnerProduct" bottom: "conv1" top: "fc7" inner_product_param { num_output: 8 weight_filler { type: "xavier" } } }
layer { name: "latent" type: "InnerProduct" bottom: "fc7" top: "latent" inner_product_param { num_output: 8 weight_filler { type: "xavier" } } }
layer { name: "encode" type: "Sigmoid" bottom: "latent" top: "encode" }
)";
    };
    const std::string data = write_mnist(dir, "t10k", 4, 1);
    test::write_text(dir.file("with_data.prototxt"), net_text(data));
    test::write_text(dir.file("no_data.prototxt"), net_text(dir.file("nowhere/t10k")));
    const WeightsFile w = weights_for(dir.file("with_data.prototxt"), 1, 28);
    auto input_for = [&](const std::string& net, const Image& img) {
        PipelineOptions po;
        po.net_path = dir.file(net);
        return trained_net_input(load_net_spec(po.net_path), po, w, TransformParam(), img);
    };
    const Image photo = noise_image(3, 32, 32, 2), small = noise_image(1, 27, 27, 3);
    NetInput in = input_for("with_data.prototxt", photo);
    CHECK(in.c == 1);  // conv1's weights hold one input channel
    CHECK(in.h == 28);  // the data layer's source decides between 27 and 28
    CHECK(in.w == 28);
    CHECK_MESSAGE(has(in.from, "the weights of conv1 and fc7 and the data layer's source " + data), in.from);
    in = input_for("no_data.prototxt", photo);
    CHECK(in.h == 27);  // no data: the size whose windows fit exactly
    in = input_for("no_data.prototxt", small);
    CHECK(in.h == 27);
    in = input_for("with_data.prototxt", small);
    CHECK(in.h == 27);  // an image the weights allow is taken as it is
    CHECK(fit_image_to_net(small, "small.png", in, true).pixels == small.pixels);

    // A colour net (three channels in conv1's weights) gets a grey image as three equal channels.
    const WeightsFile colour = weights_for(dir.file("no_data.prototxt"), 3, 28);
    PipelineOptions po;
    po.net_path = dir.file("no_data.prototxt");
    const Image grey = noise_image(1, 28, 28, 4);
    in = trained_net_input(load_net_spec(po.net_path), po, colour, TransformParam(), grey);
    CHECK(in.c == 3);
    CHECK(in.h == 28);
    Image three;
    const Output o = test::capture(dir, [&] { three = fit_image_to_net(grey, "g.png", in, false); });
    CHECK(three.c == 3);
    CHECK(std::equal(grey.pixels.begin(), grey.pixels.end(), three.pixels.begin() + 2 * 28 * 28));
    CHECK(has(o.err, "g.png: 1x28x28 converted to 3x28x28 (colour) as the net expects"));
}

TEST_CASE("messages: dlbhc's own files given as a net or solver are named by their magic") {
    TempDir dir;
    const std::string weights = dir.file("w.weights");
    write_weights(weights, WeightsFile{{NamedTensor{"a.weight", {2}, {1, 2}}}, {}, ""});
    CodeSet codes(8);
    uint64_t c = 5;
    codes.add(&c);
    IndexItems items;
    items.codes = CodeView{codes.code(0), codes.size(), codes.bits(), codes.words()};
    write_index(dir.file("db.idx"), items);
    const float x[2] = {1, 2};
    write_npy(dir.file("x.npy"), x, {2});
    write_faiss_binary_flat(dir.file("db.faiss"), items.codes);
    save_png(dir.file("p.png"), noise_image(1, 4, 4, 1));
    const std::string caffemodel = test::repo_path("tests/fixtures/caffemodel/tiny_v2.caffemodel");
    struct Case {
        std::string file, says;
    };
    for (const Case& k : {Case{weights, "is a dlbhc weights file"}, Case{dir.file("db.idx"), "is a dlbhc index"},
                          Case{dir.file("x.npy"), "is a NumPy .npy file"},
                          Case{dir.file("db.faiss"), "is a FAISS binary index"}, Case{dir.file("p.png"), "is a PNG image"},
                          Case{caffemodel, "is a binary file (at offset"}}) {
        CAPTURE(k.file);
        const std::string e = error_of([&] { load_net_spec(k.file); });
        CHECK_MESSAGE(has(e, "'" + k.file + "' " + k.says), e);
        CHECK_MESSAGE(has(e, "not a net description"), e);
        CHECK(!has(e, "unexpected character"));
    }
    CHECK(has(error_of([&] { load_net_spec(weights); }), "did you swap --net and --weights?"));
    CHECK(has(error_of([&] { load_solver_spec(weights); }), "not a solver (a prototxt, Caffe's text format); weights go "
                                                            "with --weights or --resume"));
    // Through a command: encode with the weights as --net.
    const std::string e = error_of([&] { cmd_encode({"--net", weights, "--weights", weights, "--image", dir.file("p.png")}); });
    CHECK_MESSAGE(has(e, "is a dlbhc weights file"), e);
}

TEST_CASE("messages: a net and weights that do not belong together are named before the mean or the build fails") {
    TinySetup t;
    // The demo's net with the tiny net's weights: conv1 and conv2 have no tensors.
    const std::string demo_net = test::repo_path("weights/small_dlbhc_train_val.prototxt");
    const std::string png = t.dir.file("g.png");
    save_png(png, noise_image(1, 28, 28, 9));
    std::string e = error_of([&] { cmd_encode({"--net", demo_net, "--weights", t.weights, "--image", png}); });
    CHECK_MESSAGE(has(e, "--net '" + demo_net + "' (net 'SmallDLBHC') and --weights '" + t.weights +
                             "' do not belong together: the weights have no tensors for layers conv1, conv2 of the net; "
                             "they hold layers fc7, fc8_kevin, fc8_pascal and were written for net 'TinyNet' (" + t.net + ")"),
                  e);
    // CaffeNet's nets with the demo net's weights: the train/test net's mean file is missing here and
    // the deploy net's pooling would not fit a 28x28 input; the mismatch is found first.
    DlbhcNetConfig cfg;
    auto small = build_small_dlbhc(cfg, 1, 28);
    Rng init(1);
    small->init_params(init);
    const std::string small_weights = t.dir.file("small.weights");
    write_weights(small_weights, weights_from_net(*small));
    for (const char* caffenet : {"weights/caffenet_dlbhc_train_val.prototxt", "weights/caffenet_dlbhc_deploy.prototxt"}) {
        CAPTURE(caffenet);
        e = error_of([&] { cmd_encode({"--net", test::repo_path(caffenet), "--weights", small_weights, "--image", png}); });
        CHECK_MESSAGE(has(e, "do not belong together: the weights have no tensors for layers conv3, conv4, conv5, fc6 of "
                             "the net; they hold layers conv1, conv2, fc7, fc8_kevin, fc8_pascal"),
                      e);
        e = error_of([&] { cmd_index({"--net", test::repo_path(caffenet), "--weights", small_weights, "--data", t.data, "--out",
                                      t.dir.file("x.idx")}); });
        CHECK_MESSAGE(has(e, "do not belong together"), e);
    }
}

TEST_CASE("messages: dlbhc net builds every net in weights/ without size flags") {
    TempDir dir;
    DIR* d = ::opendir(test::repo_path("weights").c_str());
    REQUIRE(d != nullptr);
    std::vector<std::string> files;
    while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.size() > 9 && n.substr(n.size() - 9) == ".prototxt") files.push_back(n);
    }
    ::closedir(d);
    REQUIRE(files.size() >= 6);
    const bool fashion = ::access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) == 0;
    for (const std::string& f : files) {
        const std::string path = test::repo_path("weights/" + f);
        // A solver names its net; each is read with --solver (and as a net, it says so).
        if (f.find("solver") != std::string::npos) {
            CAPTURE(f);
            const Output o = test::capture(dir, [&] { cmd_net({"--solver", path}); });
            CHECK_MESSAGE(o.error.empty(), o.error);
            const Output as_net = test::capture(dir, [&] { cmd_net({path}); });
            CHECK_MESSAGE(has(as_net.error, "is a solver, not a net: dlbhc net --solver " + path), as_net.error);
            continue;
        }
        // The demo's net as its users run it (both phases); the CaffeNet-size ones at batch 1, which
        // keeps each build under a second (their 61M parameters are allocated all the same).
        const bool demo = f == "small_dlbhc_train_val.prototxt";
        for (const char* phase : {"train", "test"}) {
            CAPTURE(f);
            CAPTURE(phase);
            if (!demo && std::string(phase) == "test") continue;
            const Output o = test::capture(dir, [&] {
                cmd_net(demo ? std::vector<std::string>{path, "--phase", phase} : std::vector<std::string>{path, "--batch", "1"});
            });
            if (!fashion && demo) {
                MESSAGE("Fashion-MNIST is not installed: the demo net's size cannot come from its data");
                CHECK(has(o.error, "give it with --channels C --height H --width W"));
                continue;
            }
            CHECK_MESSAGE(o.error.empty(), o.error);
            CHECK(has(o.out, "total"));
            if (demo) CHECK(has(o.out, "input size 1x28x28, from the data layer's source"));
        }
    }
    // A Data layer without crop_size whose source cannot be opened: the error names the flags.
    test::write_text(dir.file("n.prototxt"), test::tiny_net_prototxt({"T", dir.file("missing/train")}));
    const Output o = test::capture(dir, [&] { cmd_net({dir.file("n.prototxt")}); });
    CHECK_MESSAGE(has(o.error, "the data layer 'data' does not give the image size (no crop_size) and its source cannot "
                               "tell it ("),
                  o.error);
    CHECK(has(o.error, "): give it with --channels C --height H --width W"));
    const Output given = test::capture(dir, [&] {
        cmd_net({dir.file("n.prototxt"), "--channels", "1", "--height", "28", "--width", "28"});
    });
    CHECK_MESSAGE(given.error.empty(), given.error);
}

TEST_CASE("messages: progress in a log file is one line per update; the load report counts what it lists") {
    TinySetup t;
    const Output o = test::capture(t.dir, [&] {
        cmd_index({"--net", t.net, "--weights", t.weights, "--data", t.data, "--out", t.dir.file("again.idx")});
    });
    REQUIRE_MESSAGE(o.error.empty(), o.error);
    CHECK(has(o.err, "encoded 40/40 images"));
    CHECK(o.err.find('\r') == std::string::npos);  // stderr is a file here, not a terminal

    // A snapshot's momentum tensors are neither listed nor counted; with none left, no line.
    WeightsLoadReport rep;
    rep.loaded = {"a.weight"};
    rep.unused = {"a.weight@momentum", "b.bias@momentum"};
    Output r = test::capture(t.dir, [&] { print_load_report(rep, "s.weights"); });
    CHECK(r.out == "weights s.weights: 1 parameters loaded\n");
    rep.unused = {"a.weight@momentum", "extra", "b.bias@momentum"};
    r = test::capture(t.dir, [&] { print_load_report(rep, "s.weights"); });
    CHECK(has(r.out, "  tensors of the file this net does not use (1): extra\n"));
}

TEST_CASE("messages: every command's --help ends with examples whose commands and options exist") {
    const std::string bin = test::dlbhc_binary();
    TempDir dir;
    const std::string log = dir.file("log.txt");
    std::string out;
    REQUIRE(shell("'" + bin + "' --help", log, &out) == 0);
    // The command list: the indented lines after "commands:".
    std::vector<std::string> commands;
    std::istringstream lines(out.substr(out.find("commands:")));
    std::string line;
    std::getline(lines, line);
    while (std::getline(lines, line))
        if (line.size() > 2 && line[0] == ' ') commands.push_back(line.substr(2, line.find(' ', 2) - 2));
    REQUIRE(commands.size() >= 12);
    auto is_command = [&](const std::string& w) { return std::find(commands.begin(), commands.end(), w) != commands.end(); };
    for (const std::string& cmd : commands) {
        CAPTURE(cmd);
        REQUIRE(shell("'" + bin + "' " + cmd + " --help", log, &out) == 0);
        const size_t at = out.rfind("\nexamples:\n");
        REQUIRE_MESSAGE(at != std::string::npos, out);
        std::istringstream ex(out.substr(at + 11));
        int n = 0;
        while (std::getline(ex, line)) {
            CAPTURE(line);
            REQUIRE(line.compare(0, 8, "  dlbhc ") == 0);  // nothing but examples after the heading
            std::istringstream words(line);
            std::string dlbhc, name;
            words >> dlbhc >> name;
            CHECK(is_command(name));
            CHECK(name == cmd);
            // The parser accepts every option of the example (an unknown one is an error before --help).
            std::string help_out;
            CHECK_MESSAGE(shell("'" + bin + "' " + line.substr(8) + " --help", log, &help_out) == 0, help_out);
            CHECK(has(help_out, "usage: dlbhc " + cmd));
            ++n;
        }
        CHECK(n >= 1);
        CHECK(n <= 2);
    }
}

TEST_CASE("messages: make demo ends with a query command that the program accepts") {
    const std::string makefile = read_all(test::repo_path("mk/demo.mk"));  // the Makefile's demo part
    // build/dlbhc, which the printed command runs, is made by `make all`.
    CHECK(has(makefile, "demo: demo-deps\n\t@$(MAKE) --no-print-directory -j$$(nproc 2>/dev/null || echo 2) all\n"));
    const size_t at = makefile.find("echo \"  build/dlbhc query ");
    REQUIRE(at != std::string::npos);
    std::string cmd = makefile.substr(at + 20, makefile.find('"', at + 6) - at - 20);
    // The make variables, as `make demo` sets them.
    for (const auto& kv : std::vector<std::pair<std::string, std::string>>{
             {"$(DEMO_NET)", "weights/small_dlbhc_train_val.prototxt"},
             {"$(DEMO_WEIGHTS)", "demo/small_dlbhc.weights"},
             {"$(DEMO)", "demo"},
             {"$(DATA)", "/usr/share/datasets/fashion-mnist"}})
        for (size_t p; (p = cmd.find(kv.first)) != std::string::npos;) cmd.replace(p, kv.first.size(), kv.second);
    CHECK(cmd.find("$(") == std::string::npos);
    CHECK(has(cmd, "query --net weights/small_dlbhc_train_val.prototxt --weights demo/small_dlbhc.weights --index "
                   "demo/fashion_train.idx --item /usr/share/datasets/fashion-mnist/t10k:0"));
    TempDir dir;
    std::string out;
    CHECK_MESSAGE(shell("'" + test::dlbhc_binary() + "' " + cmd + " --help", dir.file("log.txt"), &out) == 0, out);
}
