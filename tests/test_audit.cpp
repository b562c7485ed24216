// tests/test_audit.cpp -- `dlbhc audit` on the shipped deploy net: the per-layer table, and dumps
// that read back (with our .npy reader, and with numpy when /usr/bin/python3 has it).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <fcntl.h>
#include <unistd.h>

#include "apps/commands.h"
#include "tests/test_data_util.h"
#include "formats/npy.h"
#include "nn/rng.h"
#include "nn/tensor.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
namespace fs = std::filesystem;

namespace {


// Runs fn with stdout (file descriptor 1) sent to a file; returns what it printed.
template <class F>
std::string capture_stdout(const std::string& path, F&& fn) {
    std::fflush(stdout);
    const int saved = ::dup(1);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(saved >= 0);
    REQUIRE(fd >= 0);
    ::dup2(fd, 1);
    ::close(fd);
    fn();
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(saved);
    FILE* f = std::fopen(path.c_str(), "r");
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    return text;
}

}  // namespace

TEST_CASE("audit: the shipped CaffeNet-DLBHC deploy net with random weights; dumps load back") {
    TempDir dir;
    Tensor x(Shape(1, 3, 227, 227));
    Rng r(5);
    for (size_t i = 0; i < x.count(); ++i) x.data()[i] = r.uniform(-50, 50);
    write_npy(dir.file("in.npy"), x);

    int rc = -1;
    const std::string out = capture_stdout(dir.file("stdout.txt"), [&] {
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
