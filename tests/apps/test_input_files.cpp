// tests/apps/test_input_files.cpp -- inputs that are not regular files, and outputs that are inputs.
//
// A FIFO (or a folder, a device) given as any input is refused at once with an error naming it
// (io/file_io.h InputFile): a plain open() of a FIFO without a writer would wait forever. And
// no command writes an output over one of its inputs (refuse_overwriting_inputs).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "data/cifar.h"
#include "data/image_io.h"
#include "data/source.h"
#include "io/read_file.h"
#include "formats/caffe_spec.h"
#include "formats/caffemodel.h"
#include "formats/net_builder.h"
#include "formats/npy.h"
#include "formats/onnx.h"
#include "nn/rng.h"
#include "formats/weights_file.h"
#include "io/file_io.h"
#include "search/index_file.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::contains;
using dlbhc::test::read_all;
using dlbhc::test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* kFifoError = "expected a regular file, found a FIFO";

std::string make_fifo(const TempDir& d, const std::string& name) {
    const std::string p = d.file(name);
    REQUIRE(::mkfifo(p.c_str(), 0644) == 0);
    return p;
}

// Runs fn, which must throw, and returns its message. A call still blocked after 10 s (a plain
// open() of the FIFO waits for a writer) fails the test; the FIFO is then opened for writing and
// closed, which lets the blocked open() return, so the suite goes on instead of hanging.
template <class F>
std::string prompt_error(F&& fn, const std::string& fifo) {
    auto result = std::async(std::launch::async, [&]() -> std::string {
        try {
            fn();
        } catch (const std::exception& e) {
            return e.what();
        }
        return "(no error)";
    });
    if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        FAIL_CHECK("still blocked on the FIFO " << fifo << " after 10 s");
        while (result.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
            const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) ::close(fd);
        }
    }
    return result.get();
}

// The tiny net (tests/support/tiny_net.h): 8-bit codes, 16-d features.
const std::string kNet = dlbhc::test::tiny_net_prototxt({"Tiny", "train", 4, 4, 16, 8, 2});

const char* kSolver = "net: \"net.prototxt\"\nbase_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 2\nrandom_seed: 1\n";

// Files the command tests share: the net, its weights (fillers, seed 1), two 28x28 grey PNGs, a
// list file of them, an MNIST-format dataset of 4 images, and a solver.
struct Files {
    TempDir d;
    std::string net, weights, png, list, mnist, solver;
    Files() {
        net = d.file("net.prototxt");
        dlbhc::test::write_text(net, kNet);
        weights = d.file("w.weights");
        dlbhc::test::write_filler_weights(net, weights, 1);
        Image img(1, 28, 28);
        for (size_t i = 0; i < img.count(); ++i) img.pixels[i] = uint8_t(i * 7);
        png = d.file("a.png");
        save_png(png, img);
        save_png(d.file("b.png"), img);
        list = d.file("list.txt");
        dlbhc::test::write_text(list, "a.png 0\nb.png 1\n");
        d.mkdir("mnist");
        dlbhc::test::write_bytes(d.file("mnist/train-images-idx3-ubyte"),
                                 dlbhc::test::make_idx({4, 28, 28}, std::vector<uint8_t>(4 * 784, 100)));
        dlbhc::test::write_bytes(d.file("mnist/train-labels-idx1-ubyte"), dlbhc::test::make_idx({4}, {0, 1, 0, 1}));
        mnist = d.file("mnist/train");
        solver = d.file("solver.prototxt");
        dlbhc::test::write_text(solver, kSolver);
    }
};

}  // namespace

TEST_CASE("file_io: InputFile reads a regular file and refuses a FIFO, a folder and a device at once") {
    TempDir d;
    dlbhc::test::write_text(d.file("x.weights"), "hello");
    {
        InputFile f(d.file("x.weights"), "x.weights");
        CHECK(f.size() == 5);
        const std::vector<uint8_t> b = f.read_all(100);
        CHECK(std::string(b.begin(), b.end()) == "hello");
    }
    CHECK_THROWS_WITH_AS(InputFile(d.file("x.weights"), "x.weights").read_all(4), contains("x.weights: file has 5 bytes, more than the limit of 4"),
                         std::runtime_error);
    const std::string fifo = make_fifo(d, "f.weights");
    CHECK(prompt_error([&] { InputFile(fifo, "f.weights"); }, fifo) == std::string("f.weights: ") + kFifoError);
    // Through a symlink: what counts is the file it leads to.
    fs::create_symlink(fifo, d.file("link.weights"));
    CHECK(prompt_error([&] { InputFile(d.file("link.weights"), "link.weights"); }, fifo) == std::string("link.weights: ") + kFifoError);
    CHECK_THROWS_WITH_AS(InputFile(d.path, "dir"), "dir: expected a regular file, found a directory", std::runtime_error);
    CHECK_THROWS_WITH_AS(InputFile("/dev/null", "null"), "null: expected a regular file, found a character device", std::runtime_error);
    CHECK_THROWS_WITH_AS(InputFile(d.file("missing"), "missing"), "missing: cannot open: No such file or directory", std::runtime_error);
}

TEST_CASE("every reader refuses a FIFO at once, naming it") {
    TempDir d;
    const std::string f = make_fifo(d, "input");
    auto check = [&](const char* what, auto&& fn) {
        const std::string e = prompt_error(fn, f);
        CHECK_MESSAGE(e.find(kFifoError) != std::string::npos, what << ": " << e);
        CHECK_MESSAGE(e.find(f) != std::string::npos, what << ": " << e);
    };
    check("read_file_bytes", [&] { read_file_bytes(f, "dataset file"); });
    check("MappedFile", [&] { MappedFile(f, "weights file"); });
    check("read_weights", [&] { read_weights(f); });
    check("IndexFile::open", [&] { IndexFile::open(f); });
    check("read_npy", [&] { read_npy(f); });
    check("read_caffemodel", [&] { read_caffemodel(f); });
    check("read_onnx_model", [&] { read_onnx_model(f); });
    check("load_net_spec", [&] { load_net_spec(f); });
    check("load_image", [&] {
        Image im;
        load_image(f, im);
    });
    // The CIFAR-10 reader checks data_batch_1.bin only; the others are read as they come.
    d.mkdir("cifar");
    dlbhc::test::write_bytes(d.file("cifar/data_batch_1.bin"), std::vector<uint8_t>(3073, 1));
    REQUIRE(::mkfifo(d.file("cifar/data_batch_2.bin").c_str(), 0644) == 0);
    const std::string e = prompt_error([&] { load_cifar10_dir(d.file("cifar"), "train"); }, d.file("cifar/data_batch_2.bin"));
    CHECK(e == "CIFAR-10 batch '" + d.file("cifar/data_batch_2.bin") + "': " + kFifoError);
    // Probing an image (folders and lists) says why it skips one.
    const std::string why = prompt_error([&] {
        ImageInfo info;
        std::string reason;
        if (!probe_image_file(f, info, reason)) throw std::runtime_error(reason);
    }, f);
    CHECK(why == "not a readable regular file (found a FIFO)");
}

TEST_CASE("a FIFO or /dev/zero as --mean, an idx file or a list file is named as what it is, not 'not found'") {
    Files fx;
    const std::string fifo = make_fifo(fx.d, "fifo");
    const char* kDevice = "expected a regular file, found a character device";
    auto check = [&](const std::string& e, const std::string& path, const char* kind) {
        CHECK_MESSAGE(e.find(path + "': " + kind) != std::string::npos, e);
        CHECK_MESSAGE(e.find("not found") == std::string::npos, e);
    };
    // --mean, checked before the dataset is read, and a data layer's mean_file.
    for (const std::string& mean : {fifo, std::string("/dev/zero")}) {
        const char* kind = mean == fifo ? kFifoError : kDevice;
        check(prompt_error([&] {
                  cmd_index({"--net", fx.net, "--weights", fx.weights, "--data", fx.mnist, "--out", fx.d.file("o.idx"), "--mean", mean});
              }, fifo),
              "--mean '" + mean, kind);
        TransformSpec t;
        t.mean_file = mean;
        check(prompt_error([&] { transform_from_spec(t, Phase::Test, fx.d.path); }, fifo), mean, kind);
    }
    // MNIST idx files: DIR/t10k whose images file is a FIFO, then /dev/zero (a symlink to it).
    fx.d.mkdir("idx");
    const std::string images = fx.d.file("idx/t10k-images-idx3-ubyte");
    dlbhc::test::write_bytes(fx.d.file("idx/t10k-labels-idx1-ubyte"), dlbhc::test::make_idx({4}, {0, 1, 0, 1}));
    REQUIRE(::mkfifo(images.c_str(), 0644) == 0);
    check(prompt_error([&] { open_dataset(fx.d.file("idx/t10k"), SourceOptions()); }, images), images, kFifoError);
    ::unlink(images.c_str());
    fs::create_symlink("/dev/zero", images);
    check(prompt_error([&] { open_dataset(fx.d.file("idx/t10k"), SourceOptions()); }, images), images, kDevice);
    // A list file.
    check(prompt_error([&] { open_dataset(fifo, SourceOptions()); }, fifo), "list file '" + fifo, kFifoError);
    check(prompt_error([&] { open_dataset("/dev/zero", SourceOptions()); }, fifo), "list file '/dev/zero", kDevice);
    // As --data of a command.
    check(prompt_error([&] { cmd_index({"--net", fx.net, "--weights", fx.weights, "--data", fifo, "--out", fx.d.file("o.idx")}); },
                       fifo),
          fifo, kFifoError);
    CHECK_FALSE(fs::exists(fx.d.file("o.idx")));
}

TEST_CASE("commands: a FIFO given as any input fails at once with an error naming it") {
    Files fx;
    const std::string bin = dlbhc::test::dlbhc_binary();
    const std::string fifo = make_fifo(fx.d, "fifo");
    // An index of two items whose first name is the FIFO: query --html loads the names as images.
    {
        std::vector<uint64_t> codes = {0x0f, 0xf0};
        std::vector<int32_t> labels = {0, 1};
        std::vector<std::string> names = {fifo, fx.png};
        IndexItems items;
        items.codes = CodeView{codes.data(), 2, 8, 1};
        items.labels = labels.data();
        items.names = &names;
        write_index(fx.d.file("db.idx"), items);
    }
    const std::string idx = fx.d.file("db.idx");
    write_npy(fx.d.file("x.npy"), std::vector<float>(784, 0.5f).data(), {1, 28, 28});
    const std::vector<std::vector<std::string>> runs = {
        {"net", fifo},
        {"net", "--solver", fifo},
        {"train", "--solver", fifo},
        {"convert", fifo, fx.d.file("out.weights")},
        {"audit", "--net", fifo, "--npy", fx.d.file("x.npy")},
        {"audit", "--net", fx.net, "--npy", fifo},
        {"audit", "--net", fx.net, "--image", fifo},
        {"audit", "--net", fx.net, "--image", fx.png, "--weights", fifo},
        {"encode", "--net", fx.net, "--weights", fx.weights, "--image", fifo},
        {"index", "--net", fx.net, "--weights", fifo, "--data", fx.list, "--out", fx.d.file("o.idx")},
        {"index", "--net", fifo, "--weights", fx.weights, "--data", fx.mnist, "--out", fx.d.file("o.idx")},
        {"eval", "--net", fx.net, "--weights", fx.weights, "--index", fifo, "--queries", fx.list},
        {"query", "--net", fx.net, "--weights", fx.weights, "--index", fifo, "--image", fx.png},
        {"query", "--net", fx.net, "--weights", fx.weights, "--index", idx, "--image", fifo, "--coarse-only"},
    };
    int n = 0;
    for (const auto& args : runs) {
        const std::string log = fx.d.file("log" + std::to_string(n++) + ".txt");
        const dlbhc::test::ChildExit e = dlbhc::test::run_with_timeout(bin, args, log, 20);
        std::string cmd;
        for (const auto& a : args) cmd += " " + a;
        const std::string err = dlbhc::test::file_tail(log);
        CHECK_MESSAGE(!e.timed_out, "hung:" << cmd);
        CHECK_MESSAGE((e.exited && e.code == 1), cmd << "\n" << err);
        const bool named = err.find(fifo + "': " + kFifoError) != std::string::npos || err.find(fifo + ": " + kFifoError) != std::string::npos;
        CHECK_MESSAGE(named, cmd << "\n" << err);
    }
    // The page shows the result it can read and names the one it cannot; the FIFO does not hang it.
    const std::string log = fx.d.file("log_html.txt");
    const dlbhc::test::ChildExit e = dlbhc::test::run_with_timeout(
        bin, {"query", "--net", fx.net, "--weights", fx.weights, "--index", idx, "--image", fx.png, "--coarse-only", "--k", "2",
              "--html", fx.d.file("page.html")},
        log, 20);
    CHECK_MESSAGE(!e.timed_out, "query --html hung on an item name that is a FIFO");
    CHECK_MESSAGE((e.exited && e.code == 0), dlbhc::test::file_tail(log));
    CHECK(read_all(fx.d.file("page.html")).find(fifo) != std::string::npos);
}

TEST_CASE("file_io: same_file and refuse_overwriting_inputs go by device and inode") {
    TempDir d;
    dlbhc::test::write_text(d.file("x"), "input");
    dlbhc::test::write_text(d.file("twin"), "input");  // same bytes, another file
    d.mkdir("sub");
    fs::create_symlink(d.file("x"), d.file("link"));
    fs::create_hard_link(d.file("x"), d.file("hard"));
    CHECK(same_file(d.file("x"), d.file("x")));
    CHECK(same_file(d.file("x"), d.path + "/./x"));
    CHECK(same_file(d.file("x"), d.path + "/sub/../x"));
    CHECK(same_file(d.file("link"), d.file("x")));
    CHECK(same_file(d.file("x"), d.file("hard")));
    CHECK_FALSE(same_file(d.file("x"), d.file("twin")));
    CHECK_FALSE(same_file(d.file("x"), d.file("missing")));
    CHECK_FALSE(same_file(d.file("missing"), d.file("missing")));  // an output not yet there
    CHECK_FALSE(same_file("", ""));
    // A relative path against an absolute one.
    const fs::path cwd = fs::current_path();
    fs::current_path(d.path);
    const bool relative = same_file("./x", d.file("x")) && same_file("x", "sub/../x");
    fs::current_path(cwd);
    CHECK(relative);

    CHECK_THROWS_WITH_AS(refuse_overwriting_inputs({{"--json", d.file("link")}}, {{"--net", d.file("twin")}, {"--index", d.file("x")}}),
                         ("--json " + d.file("link") + " is the same file as --index " + d.file("x") +
                          "; refusing to overwrite an input").c_str(),
                         std::invalid_argument);
    CHECK_NOTHROW(refuse_overwriting_inputs({{"--json", d.file("new.json")}, {"--svg", ""}}, {{"--index", d.file("x")}, {"--mean", ""}}));
}

TEST_CASE("commands refuse an output that is one of their inputs, before any work; the input is intact") {
    Files fx;
    const std::string precious = "precious bytes that are not what the output would be";
    const std::string x = fx.d.file("x.idx");
    dlbhc::test::write_text(x, precious);
    auto refused = [&](const std::string& file, const std::vector<std::string>& parts, auto&& run) {
        const std::string before = read_all(file);
        std::string msg = "(no error)";
        try {
            run();
        } catch (const std::exception& e) {
            msg = e.what();
        }
        CHECK_MESSAGE(msg.find("refusing to overwrite an input") != std::string::npos, msg);
        for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, p << " not in: " << msg);
        CHECK(read_all(file) == before);
    };
    const std::string rel = fs::relative(x).string();  // the same file by another spelling
    refused(x, {"--json " + rel, "--index " + x}, [&] {
        cmd_eval({"--net", fx.net, "--weights", fx.weights, "--index", x, "--queries", fx.list, "--json", rel});
    });
    refused(x, {"--html " + x, "--index " + x}, [&] {
        cmd_query({"--net", fx.net, "--weights", fx.weights, "--index", x, "--image", fx.png, "--html", x});
    });
    refused(fx.weights, {"--out", "--weights"}, [&] {
        cmd_index({"--net", fx.net, "--weights", fx.weights, "--data", fx.list, "--out", fx.weights});
    });
    refused(fx.weights, {"--latent-npy", "--weights"}, [&] {
        cmd_encode({"--net", fx.net, "--weights", fx.weights, "--image", fx.png, "--latent-npy", fx.weights});
    });
    fs::create_hard_link(fx.weights, fx.d.file("same.weights"));
    refused(fx.weights, {"OUT " + fx.d.file("same.weights"), "IN " + fx.weights}, [&] { cmd_convert({fx.weights, fx.d.file("same.weights")}); });
    refused(fx.weights, {"OUT", "IN"}, [&] { cmd_convert({fx.weights, fx.weights}); });
    refused(fx.weights, {"--out", "--weights"}, [&] {
        cmd_train({"--solver", fx.solver, "--net", fx.net, "--train-data", fx.mnist, "--test-data", "none", "--weights", fx.weights,
                   "--out", fx.weights});
    });
    // A later snapshot of the run's own prefix given as its initial weights.
    fx.d.mkdir("snap");
    fs::copy_file(fx.weights, fx.d.file("snap/t_iter_2.weights"));
    refused(fx.d.file("snap/t_iter_2.weights"), {"the snapshot " + fx.d.file("snap/t_iter_2.weights"), "--weights"}, [&] {
        cmd_train({"--solver", fx.solver, "--net", fx.net, "--train-data", fx.mnist, "--test-data", "none", "--weights",
                   fx.d.file("snap/t_iter_2.weights"), "--snapshot-prefix", fx.d.file("snap/t")});
    });
    // An earlier dump given back to audit as its input.
    fx.d.mkdir("dump");
    write_npy(fx.d.file("dump/data.input.npy"), std::vector<float>(784, 0.5f).data(), {1, 28, 28});
    // The dump folder is replaced as a whole (AtomicDirWriter), so any input inside it is refused,
    // not only one the dump would overwrite.
    {
        const std::string in = fx.d.file("dump/data.input.npy"), before = read_all(in);
        std::string msg = "(no error)";
        try {
            cmd_audit({"--net", fx.net, "--npy", in, "--dump", fx.d.file("dump")});
        } catch (const std::exception& e) {
            msg = e.what();
        }
        CHECK_MESSAGE(msg.find("--npy " + in + " lies inside --dump " + fx.d.file("dump") +
                               ", which is replaced as a whole; refusing to delete an input") != std::string::npos,
                      msg);
        CHECK(read_all(in) == before);
    }
    // The same for a query image inside --html's picture folder.
    {
        fx.d.mkdir("page_files");
        const std::string in = fx.d.file("page_files/q.png");
        dlbhc::test::write_text(in, "not really a png");
        std::string msg = "(no error)";
        try {
            dlbhc::refuse_inputs_inside_folder({"--html's picture folder", fx.d.file("page_files")},
                                               {{"--index", fx.d.file("x.idx")}, {"--image", in}});
        } catch (const std::exception& e) {
            msg = e.what();
        }
        CHECK_MESSAGE(msg.find("--image " + in + " lies inside --html's picture folder") != std::string::npos, msg);
        CHECK_NOTHROW(dlbhc::refuse_inputs_inside_folder({"--dump", fx.d.file("no_such_folder")}, {{"--image", in}}));
        CHECK_NOTHROW(dlbhc::refuse_inputs_inside_folder({"--dump", fx.d.file("page")}, {{"--image", in}}));
    }
}
