// tests/apps/test_audit.cpp -- `dlbhc audit` on the shipped deploy net: the per-layer table, and dumps
// that read back (with our .npy reader, and with numpy when /usr/bin/python3 has it).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>
#include <fcntl.h>
#include <unistd.h>

#include "apps/commands.h"
#include "tests/support/child_process.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "formats/npy.h"
#include "nn/rng.h"
#include "nn/tensor.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
using dlbhc::test::write_text;
namespace fs = std::filesystem;

TEST_CASE("audit: the shipped CaffeNet-DLBHC deploy net with random weights; dumps load back") {
    TempDir dir;
    Tensor x(Shape(1, 3, 227, 227));
    Rng r(5);
    for (size_t i = 0; i < x.count(); ++i) x.data()[i] = r.uniform(-50, 50);
    write_npy(dir.file("in.npy"), x);

    int rc = -1;
    const std::string out = test::stdout_of(dir.file("stdout.txt"), [&] {
        rc = cmd_audit({"--net", "weights/caffenet_dlbhc_deploy.prototxt", "--npy", dir.file("in.npy"), "--dump", dir.file("dump")});
    });
    REQUIRE(rc == 0);
    // One row per layer with shape, parameters and the activation range; the latent report.
    CHECK(out.find("conv1") != std::string::npos);
    CHECK(out.find("(1, 96, 55, 55)") != std::string::npos);
    CHECK(out.find("fc8_kevin_encode") != std::string::npos);
    CHECK(out.find("latent layer fc8_kevin_encode (48 bits)") != std::string::npos);
    CHECK(out.find("no --weights") != std::string::npos);

    // conv1's output right after conv1 (before relu1 rewrites it in place) has negative values;
    // relu1's output has none; the parameters and the input are there too.
    NamedTensor conv1 = read_npy(dir.file("dump/conv1.conv1.npy"));
    NamedTensor relu1 = read_npy(dir.file("dump/relu1.conv1.npy"));
    REQUIRE(conv1.dims == std::vector<int64_t>({1, 96, 55, 55}));
    float mn = 0, rmn = 0;
    for (float v : conv1.data) mn = std::min(mn, v);
    for (float v : relu1.data) rmn = std::min(rmn, v);
    CHECK(mn < 0);
    CHECK(rmn == 0);
    CHECK(read_npy(dir.file("dump/conv1.weight.npy")).count() == size_t(96) * 3 * 11 * 11);
    NamedTensor enc = read_npy(dir.file("dump/fc8_kevin_encode.fc8_kevin_encode.npy"));
    CHECK(enc.count() == 48);
    for (float v : enc.data) CHECK((v >= 0 && v <= 1));
    CHECK(read_npy(dir.file("dump/data.input.npy")).data == read_npy(dir.file("in.npy")).data);

    // numpy reads them too, where Debian's python3-numpy is installed (it is not a dependency).
    if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0) {
        const std::string cmd = "/usr/bin/python3 -c \"import numpy,sys; a=numpy.load(sys.argv[1]); "
                                "assert a.shape==(1,96,55,55) and a.dtype==numpy.float32\" " +
                                dir.file("dump/conv1.conv1.npy");
        CHECK(std::system(cmd.c_str()) == 0);
    } else {
        MESSAGE("numpy not installed: dumps checked with our own reader only");
    }
}

TEST_CASE("audit: bad input is an error naming the file") {
    TempDir dir;
    std::FILE* f = std::fopen(dir.file("bad.npy").c_str(), "wb");
    std::fputs("\x93NUMPY\x01\x00garbage", f);
    std::fclose(f);
    try {
        cmd_audit({"--net", "weights/caffenet_dlbhc_deploy.prototxt", "--npy", dir.file("bad.npy")});
        FAIL("accepted a broken .npy");
    } catch (const std::exception& e) {
        CHECK(std::string(e.what()).find("bad.npy") != std::string::npos);
    }
    Tensor small(Shape(1, 3, 20, 20));
    write_npy(dir.file("small.npy"), small);
    try {
        cmd_audit({"--net", "weights/caffenet_dlbhc_deploy.prototxt", "--npy", dir.file("small.npy")});
        FAIL("accepted an input too small for conv1..pool5");
    } catch (const std::exception& e) {
        CHECK(std::string(e.what()).size() > 0);
    }
}

namespace {

// A deploy net (no loss) small enough for a fast test: --backward fails on it only after the
// forward pass has dumped every layer's output.
const char* kDeployNet = R"(name: "TinyDeploy"
input: "data"
input_dim: 1
input_dim: 1
input_dim: 28
input_dim: 28
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 5 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "fc7" type: "InnerProduct" bottom: "conv1" top: "fc7" inner_product_param { num_output: 16 } }
layer { name: "fc8_kevin" type: "InnerProduct" bottom: "fc7" top: "fc8_kevin" inner_product_param { num_output: 12 } }
layer { name: "fc8_kevin_encode" type: "Sigmoid" bottom: "fc8_kevin" top: "fc8_kevin_encode" }
)";

}  // namespace

TEST_CASE("audit: a --dump that fails midway leaves no partial folder, and a previous dump intact") {
    TempDir dir;
    std::FILE* f = std::fopen(dir.file("deploy.prototxt").c_str(), "w");
    std::fputs(kDeployNet, f);
    std::fclose(f);
    Tensor x(Shape(1, 1, 28, 28));
    Rng r(3);
    for (size_t i = 0; i < x.count(); ++i) x.data()[i] = r.uniform(-1, 1);
    write_npy(dir.file("x.npy"), x);
    const std::string dump = dir.file("out/dump");
    auto audit = [&](const std::string& seed, bool backward) {
        std::vector<std::string> args = {"--net", dir.file("deploy.prototxt"), "--npy", dir.file("x.npy"), "--dump", dump, "--seed", seed};
        if (backward) args.push_back("--backward");
        std::string error;  // caught inside: stdout_of must get to restore stdout
        test::stdout_of(dir.file("stdout.txt"), [&] {
            try {
                cmd_audit(args);
            } catch (const std::exception& e) {
                error = e.what();
            }
        });
        return error;
    };
    // --backward without a loss fails after the forward pass: before, the folder held its dumps.
    CHECK(test::has(audit("1", true), "--backward needs a net with a loss layer"));
    CHECK(!fs::exists(dump));
    CHECK(test::list_folder(dir.file("out")).empty());  // no temporary folder either

    REQUIRE(audit("1", false) == "");
    const auto before = test::folder_contents(dump);
    CHECK(before.size() == 12);  // input, 5 layer outputs, 6 parameters
    // Another seed: every file would differ, so a partly overwritten dump would show.
    CHECK(test::has(audit("2", true), "--backward needs a net with a loss layer"));
    CHECK(test::folder_contents(dump) == before);
    CHECK(test::list_folder(dir.file("out")) == std::vector<std::string>{"dump"});
    // A success replaces it whole.
    REQUIRE(audit("2", false) == "");
    const auto after = test::folder_contents(dump);
    CHECK(after.size() == 12);
    CHECK(after.at("conv1.weight.npy") != before.at("conv1.weight.npy"));
    CHECK(test::list_folder(dir.file("out")) == std::vector<std::string>{"dump"});

    // A folder that holds anything but .npy files is not replaced (nor deleted).
    write_text(dump + "/notes.txt", "mine");
    CHECK(test::has(audit("3", false), "may hold only files named *.npy; found 'notes.txt'"));
    CHECK(test::folder_contents(dump).size() == 13);
}
