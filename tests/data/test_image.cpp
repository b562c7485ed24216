// tests/data/test_image.cpp -- JPEG/PNG decoding and writing, image folders and list files:
// colour order, grey images, corrupt and truncated files, the pixel limit, skipping and strict mode.
#include <doctest/doctest.h>

#include <stb/stb_image_write.h>

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "data/image_io.h"
#include "data/source.h"
#include "io/read_file.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using namespace dlbhc::test;

namespace {

// A colour test image (BGR planes) whose pixel (c, y, x) = (c * 70 + y * 13 + x * 5 + seed) % 256.
Image pattern(int h, int w, int seed, int channels = 3) {
    Image im(channels, h, w);
    for (int c = 0; c < channels; ++c)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) im.at(c, y, x) = (uint8_t)((c * 70 + y * 13 + x * 5 + seed) % 256);
    return im;
}

Image solid(int h, int w, uint8_t b, uint8_t g, uint8_t r) {
    Image im(3, h, w);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) im.at(0, y, x) = b, im.at(1, y, x) = g, im.at(2, y, x) = r;
    return im;
}

std::vector<uint8_t> garbage(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = (uint8_t)(i * 37 + 11);
    return v;
}

// A PNG cut after its IHDR chunk (33 bytes: signature + IHDR) and a few more bytes: the header
// probes fine, the pixels cannot be decoded.
void write_truncated_png(const std::string& path, const Image& im) {
    TempDir t;
    save_png(t.file("full.png"), im);
    std::vector<uint8_t> v = read_file_bytes(t.file("full.png"), "png");
    v.resize(40);
    write_bytes(path, v);
}

bool has_message(const LoadReport& r, const std::string& part) {
    for (const auto& m : r.messages)
        if (m.find(part) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("data/image_io: PNG round trip is exact, colour order kept, grey copied to 3 channels") {
    TempDir d;
    const Image im = pattern(5, 7, 3);
    save_png(d.file("c.png"), im);
    ImageInfo info;
    std::string why;
    REQUIRE(probe_image_file(d.file("c.png"), info, why));
    CHECK(info.width == 7);
    CHECK(info.height == 5);
    CHECK(info.channels == 3);
    Image back;
    load_image(d.file("c.png"), back);
    CHECK(back.c == 3);
    CHECK(back.h == 5);
    CHECK(back.w == 7);
    CHECK(back.pixels == im.pixels);

    const Image g = pattern(4, 6, 9, 1);
    save_png(d.file("g.png"), g);
    REQUIRE(probe_image_file(d.file("g.png"), info, why));
    CHECK(info.channels == 1);
    load_image(d.file("g.png"), back);  // colour: three copies of the grey plane
    REQUIRE(back.c == 3);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 6; ++x) CHECK(back.at(c, y, x) == g.at(0, y, x));
    load_image(d.file("g.png"), back, false);
    CHECK(back.c == 1);
    CHECK(back.pixels == g.pixels);

    CHECK_THROWS_WITH_AS(save_png(d.file("x.png"), Image(2, 3, 3)), contains("can write 1 or 3 channel images"), std::invalid_argument);
}

TEST_CASE("data/image_io: JPEG keeps B, G and R apart and stays close to the original") {
    TempDir d;
    save_jpeg(d.file("blue.jpg"), solid(16, 16, 250, 10, 10), 95);
    Image back;
    load_image(d.file("blue.jpg"), back);
    REQUIRE(back.c == 3);
    CHECK(back.at(0, 8, 8) > 230);  // blue stays in channel 0
    CHECK(back.at(2, 8, 8) < 30);
    save_jpeg(d.file("red.jpg"), solid(16, 16, 10, 10, 250), 95);
    load_image(d.file("red.jpg"), back);
    CHECK(back.at(0, 8, 8) < 30);
    CHECK(back.at(2, 8, 8) > 230);

    const Image im = pattern(24, 32, 0);
    save_jpeg(d.file("p.jpg"), im, 100);
    load_image(d.file("p.jpg"), back);
    REQUIRE(back.count() == im.count());
    double err = 0;
    for (size_t i = 0; i < im.count(); ++i) err += std::abs((int)back.pixels[i] - (int)im.pixels[i]);
    CHECK(err / im.count() < 6.0);  // mean absolute error of a quality-100 JPEG with 4:2:0 chroma
    CHECK_THROWS_WITH_AS(save_jpeg(d.file("q.jpg"), im, 0), contains("JPEG quality must be 1..100"), std::invalid_argument);
}

TEST_CASE("data/image_io: corrupt, truncated and oversized files") {
    TempDir d;
    write_bytes(d.file("bad.jpg"), garbage(300));
    ImageInfo info;
    std::string why;
    CHECK_FALSE(probe_image_file(d.file("bad.jpg"), info, why));
    CHECK(why.find("not a JPEG or PNG file") != std::string::npos);
    Image im;
    CHECK_THROWS_WITH_AS(load_image(d.file("bad.jpg"), im), contains("image file '" + d.file("bad.jpg") + "': expected a JPEG or PNG image"), std::runtime_error);
    CHECK_FALSE(probe_image_file(d.file("missing.png"), info, why));
    CHECK(why == "not a readable regular file");

    write_truncated_png(d.file("cut.png"), pattern(20, 20, 1));
    CHECK(probe_image_file(d.file("cut.png"), info, why));  // the header is intact
    CHECK_THROWS_WITH_AS(load_image(d.file("cut.png"), im), contains("cannot decode"), std::runtime_error);

    // Formats other than JPEG and PNG are not compiled in: a valid BMP is refused.
    // (stb_image_write, compiled in full, writes a valid one.)
    std::vector<uint8_t> bmp;
    const uint8_t rgb[3 * 4] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
    REQUIRE(stbi_write_bmp_to_func(
        [](void* ctx, void* p, int n) {
            auto* v = static_cast<std::vector<uint8_t>*>(ctx);
            v->insert(v->end(), static_cast<uint8_t*>(p), static_cast<uint8_t*>(p) + n);
        },
        &bmp, 2, 2, 3, rgb));
    REQUIRE(bmp.size() > 54);
    write_bytes(d.file("one.bmp"), bmp);
    CHECK_FALSE(probe_image_file(d.file("one.bmp"), info, why));
    CHECK_THROWS_WITH_AS(load_image(d.file("one.bmp"), im), contains("expected a JPEG or PNG image"), std::runtime_error);

    // The pixel limit is applied from the header, before decoding.
    save_png(d.file("big.png"), pattern(5, 7, 0));
    CHECK_FALSE(probe_image_file(d.file("big.png"), info, why, 34));
    CHECK(why == "image of 7 x 5 pixels is larger than the limit of 34 pixels");
    CHECK(probe_image_file(d.file("big.png"), info, why, 35));
    CHECK_THROWS_WITH_AS(load_image(d.file("big.png"), im, true, 34), contains("larger than the limit of 34 pixels"), std::runtime_error);
    // A PNG header claiming 2^31 x 2^31 pixels: refused by the header checks, nothing decoded.
    std::vector<uint8_t> v = read_file_bytes(d.file("big.png"), "png");
    for (int k : {16, 20}) v[k] = 0x7f, v[k + 1] = v[k + 2] = v[k + 3] = 0xff;
    write_bytes(d.file("huge.png"), v);
    CHECK_FALSE(probe_image_file(d.file("huge.png"), info, why));
    CHECK_THROWS_AS(load_image(d.file("huge.png"), im), std::runtime_error);
    // 100,000 x 100,000 (a side above stb's STBI_MAX_DIMENSIONS of 65536) and 10,000 x 10,000
    // (100 Mpx, above the default pixel limit): both refused from the header, nothing allocated.
    for (uint32_t side : {100000u, 10000u}) {
        for (int k : {16, 20})
            for (int b = 0; b < 4; ++b) v[k + b] = (uint8_t)(side >> (24 - 8 * b));
        write_bytes(d.file("huge.png"), v);
        CAPTURE(side);
        CHECK_FALSE(probe_image_file(d.file("huge.png"), info, why));
        CHECK_THROWS_WITH_AS(load_image(d.file("huge.png"), im), contains("huge.png"), std::runtime_error);
        if (side == 10000) CHECK(why == "image of 10000 x 10000 pixels is larger than the limit of 67108864 pixels");
        else CHECK(why.find("decoder: ") != std::string::npos);
    }
}

TEST_CASE("data/image_folder: classes by folder name, bad files skipped and reported") {
    TempDir d;
    const std::string root = d.mkdir("root");
    d.mkdir("root/cat");
    d.mkdir("root/dog");
    d.mkdir("root/empty_class");
    d.mkdir("root/.hidden");
    d.mkdir("root/dog/nested");
    save_png(d.file("root/cat/a.png"), pattern(6, 6, 1));
    save_jpeg(d.file("root/cat/b.JPG"), pattern(6, 6, 2));
    save_png(d.file("root/dog/c.png"), pattern(6, 6, 3, 1));  // grey
    write_bytes(d.file("root/dog/bad.jpg"), garbage(100));
    write_text(d.file("root/dog/notes.txt"), "not an image");
    write_text(d.file("root/readme.txt"), "not a class");
    save_png(d.file("root/.hidden/x.png"), pattern(6, 6, 4));

    LoadReport rep;
    auto ds = ImageFolderDataset::from_folder(root, {}, &rep);
    REQUIRE(ds->size() == 3);
    CHECK(ds->class_names() == std::vector<std::string>{"cat", "dog", "empty_class"});
    CHECK(ds->num_classes() == 3);
    CHECK(ds->name(0) == d.file("root/cat/a.png"));
    CHECK(ds->name(1) == d.file("root/cat/b.JPG"));
    CHECK(ds->name(2) == d.file("root/dog/c.png"));
    CHECK(ds->label(0) == 0);
    CHECK(ds->label(1) == 0);
    CHECK(ds->label(2) == 1);
    CHECK(ds->channels() == 3);
    CHECK(ds->height() == 6);
    CHECK(ds->width() == 6);
    CHECK(rep.skipped == 1);
    CHECK(rep.ignored == 3);  // notes.txt, readme.txt, nested/
    REQUIRE(rep.messages.size() == 1);
    CHECK(rep.messages[0].find(d.file("root/dog/bad.jpg") + ": not a JPEG or PNG file") == 0);

    Image im;
    ds->item(0, im);
    CHECK(im.pixels == pattern(6, 6, 1).pixels);
    ds->item(2, im);  // grey -> 3 channels
    REQUIRE(im.c == 3);
    CHECK(im.at(2, 5, 5) == pattern(6, 6, 3, 1).at(0, 5, 5));
    CHECK_THROWS_AS(ds->item(3, im), std::out_of_range);

    ImageFolderOptions strict;
    strict.strict = true;
    CHECK_THROWS_WITH_AS(ImageFolderDataset::from_folder(root, strict), contains("unreadable image (strict mode): " + d.file("root/dog/bad.jpg")), std::runtime_error);
    CHECK_THROWS_WITH_AS(ImageFolderDataset::from_folder(d.file("nope")), contains("expected a folder"), std::runtime_error);
    CHECK_THROWS_WITH_AS(ImageFolderDataset::from_folder(d.mkdir("flat")), contains("found no subfolder"), std::runtime_error);
}

TEST_CASE("data/image_folder: a damaged file is caught at item() or, with verify, at load time") {
    TempDir d;
    d.mkdir("r/a");
    save_png(d.file("r/a/good.png"), pattern(8, 8, 0));
    save_png(d.file("r/a/other.png"), pattern(9, 8, 0));  // a different size
    write_truncated_png(d.file("r/a/cut.png"), pattern(20, 20, 1));
    LoadReport rep;
    auto lazy = ImageFolderDataset::from_folder(d.file("r"), {}, &rep);
    REQUIRE(lazy->size() == 3);  // cut.png's header is fine
    CHECK(rep.skipped == 0);
    CHECK(lazy->height() == 0);  // sizes differ
    CHECK(lazy->info(0).width == 20);
    Image im;
    CHECK_THROWS_WITH_AS(lazy->item(0, im), contains("image file '" + d.file("r/a/cut.png") + "': cannot decode"), std::runtime_error);

    ImageFolderOptions verify;
    verify.verify = true;
    LoadReport rep2;
    auto checked = ImageFolderDataset::from_folder(d.file("r"), verify, &rep2);
    CHECK(checked->size() == 2);
    CHECK(rep2.skipped == 1);
    CHECK(has_message(rep2, "cut.png: image file"));
    // Probing is decided per file, so the result does not depend on OpenMP's thread count.
    CHECK(checked->name(0) == d.file("r/a/good.png"));
    CHECK(checked->name(1) == d.file("r/a/other.png"));
}

// Runs the rest of a test case in `dir`, and returns to the folder it was in at the end.
struct InFolder {
    std::string was;
    explicit InFolder(const std::string& dir) {
        char buf[4096];
        REQUIRE(::getcwd(buf, sizeof buf) != nullptr);
        was = buf;
        REQUIRE(::chdir(dir.c_str()) == 0);
    }
    ~InFolder() { REQUIRE(::chdir(was.c_str()) == 0); }
};

TEST_CASE("data/image_folder: a list file named without a folder; from_list keeps its paths as written") {
    // The folder of "list.txt" is "" for from_list (io/path.h folder_part: the paths stay as
    // written, "a.png") but "." for open_dataset (parent_folder: "./a.png"), as they always were:
    // both are the item names an index records and query prints.
    TempDir d;
    save_png(d.file("a.png"), pattern(5, 5, 1));
    write_text(d.file("list.txt"), "a.png 1\n");
    InFolder here(d.path);
    auto ds = ImageFolderDataset::from_list("list.txt");
    REQUIRE(ds->size() == 1);
    CHECK(ds->name(0) == "a.png");
    auto opened = open_dataset("list.txt", SourceOptions());
    REQUIRE(opened->size() == 1);
    CHECK(opened->name(0) == "./a.png");
}

TEST_CASE("data/image_folder: Caffe list files") {
    TempDir d;
    d.mkdir("imgs/sub dir");
    save_png(d.file("imgs/a.png"), pattern(5, 5, 1));
    save_png(d.file("imgs/sub dir/with space.png"), pattern(5, 5, 2));
    write_text(d.file("imgs/list.txt"), "a.png 0\n\n  sub dir/with space.png\t4  \r\nmissing.png 2\n");
    LoadReport rep;
    auto ds = ImageFolderDataset::from_list(d.file("imgs/list.txt"), "", {}, &rep);  // root: the list's folder
    REQUIRE(ds->size() == 2);
    CHECK(ds->num_classes() == 5);  // max label + 1, from every line
    CHECK(ds->label(1) == 4);
    CHECK(ds->name(1) == d.file("imgs/sub dir/with space.png"));
    CHECK(ds->class_names().empty());
    CHECK(rep.skipped == 1);
    CHECK(has_message(rep, d.file("imgs/list.txt") + ":2: blank line skipped"));
    CHECK(has_message(rep, d.file("imgs/missing.png") + ": not a readable regular file"));

    // An explicit root, and absolute paths kept as they are.
    write_text(d.file("list2.txt"), "a.png 3\n" + d.file("imgs/a.png") + " 1\n");
    auto ds2 = ImageFolderDataset::from_list(d.file("list2.txt"), d.file("imgs"));
    REQUIRE(ds2->size() == 2);
    CHECK(ds2->name(0) == d.file("imgs/a.png"));
    CHECK(ds2->name(1) == d.file("imgs/a.png"));

    const std::string bad = d.file("bad.txt");
    for (const char* line : {"just_a_path.png", "a.png x", "a.png -1", "a.png 3.5", "a.png 99999999999", " 7",
                             "a.png 2147483647", "a.png 16777216"}) {
        write_text(bad, std::string("a.png 0\n") + line + "\n");
        CAPTURE(line);
        CHECK_THROWS_WITH_AS(ImageFolderDataset::from_list(bad, d.file("imgs")), contains("list file '" + bad + "': line 2: expected '<path> <label>' with an integer label in 0..16777215"), std::runtime_error);
    }
    write_text(bad, "\n\n");
    CHECK_THROWS_WITH_AS(ImageFolderDataset::from_list(bad), contains("found none"), std::runtime_error);
    write_text(bad, "missing.png 0\n");
    CHECK_THROWS_WITH_AS(ImageFolderDataset::from_list(bad), contains("no readable image found (1 candidates, 1 unreadable)"), std::runtime_error);
}
