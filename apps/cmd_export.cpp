// apps/cmd_export.cpp -- `dlbhc export`: an index's codes (and labels) for other engines: a FAISS
// IndexBinaryFlat file, or NumPy .npy arrays.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/progress.h"
#include "formats/npy.h"
#include "io/byte_order.h"
#include "io/file_io.h"
#include "io/path.h"
#include "search/faiss_export.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc export --format faiss|npy INDEX.idx OUT\n"
    "Writes the codes of an index in a form other engines load; item i of the output is item i of\n"
    "the index. Codes are packed the FAISS way: bit j of a B-bit code (latent unit j) is bit j%8\n"
    "(least-significant first) of byte j/8, ceil(B/8) bytes per code; when B is not a multiple of 8\n"
    "the code is padded with zero bits up to the next multiple (Hamming distances are unchanged).\n"
    "  --format faiss   OUT is a FAISS IndexBinaryFlat file (d = 8*ceil(B/8) bits):\n"
    "                     index = faiss.read_index_binary(OUT); D, I = index.search(queries, k)\n"
    "                   (queries packed the same way, uint8 (Q, ceil(B/8))). FAISS is not needed\n"
    "                   to write it; the layout is in search/faiss_export.h\n"
    "  --format npy     OUT is a folder (an existing one, or a name ending in '/') or a prefix:\n"
    "                   OUT/codes.npy and OUT/labels.npy, or OUT.codes.npy and OUT.labels.npy:\n"
    "                   codes uint8 (N, ceil(B/8)), packed as above, so that\n"
    "                     np.unpackbits(codes, axis=1, bitorder='little')[:, :B]\n"
    "                   gives the (N, B) 0/1 bits; labels int64 (N,) (-1 = unknown)\n"
    "Names and features stay in the index (`dlbhc query` maps results to names). Every file is\n"
    "written atomically (a temporary file renamed over OUT), and only once all of them are complete\n"
    "on disk: a full disk leaves the previous codes.npy and labels.npy both as they were. An OUT\n"
    "that is (or links to) INDEX, or an empty OUT, is refused before anything is read.\n";

namespace {

// Where `--format npy` writes: OUT/ for a folder, OUT. for a prefix.
std::string npy_prefix(const std::string& out) {
    if (!out.empty() && out.back() == '/') return out;
    if (is_directory(out)) return out + "/";
    return out + ".";
}

// The files the format writes for OUT: OUT itself (faiss), or the codes and labels files (npy).
std::vector<NamedPath> export_outputs(const std::string& format, const std::string& out) {
    if (format == "faiss") return {{"OUT", out}};
    const std::string prefix = npy_prefix(out);
    return {{"OUT's codes file", prefix + "codes.npy"}, {"OUT's labels file", prefix + "labels.npy"}};
}

// Every output is checked before the index is read (and fully verified): writable, not the
// index itself (by device and inode: a symlink or hard link to it, or the npy prefix form that
// names it, e.g. INDEX x.codes.npy and OUT x), and not one another (a link between the two npy
// files would make the second replace the first).
void check_export_outputs(const std::string& format, const std::string& index, const std::string& out,
                          const std::vector<NamedPath>& outputs) {
    if (out.empty()) throw std::invalid_argument("OUT: expected a file name or a folder, found an empty name");
    if (format == "npy" && npy_prefix(out).back() == '/') check_output_folder(out, "OUT");
    std::vector<std::pair<std::string, std::string>> distinct;
    for (const NamedPath& o : outputs) {
        check_output_path(o.path, "OUT");
        distinct.emplace_back(o.label, o.path);
    }
    check_distinct_outputs(distinct);
    refuse_overwriting_inputs(outputs, {{"INDEX", index}});
}

// Items exported between two progress updates (and page releases).
constexpr size_t kExportPiece = size_t(1) << 16;

void export_npy(const IndexFile& db, const std::string& codes_path, const std::string& labels_path) {
    const int64_t n = int64_t(db.size());
    const size_t bytes = packed_code_bytes(db.bits());
    AtomicFileWriter codes(codes_path, "npy file"), labels(labels_path, "npy file");
    const std::string ch = npy_header("|u1", {n, int64_t(bytes)}), lh = npy_header("<i8", {n});
    codes.write(ch.data(), ch.size());
    labels.write(lh.data(), lh.size());
    std::vector<uint8_t> row(bytes);
    Progress shown("exported", "codes", "codes", db.size(), true, kExportPiece);
    for (size_t at = 0; at < db.size(); at += kExportPiece) {
        const size_t end = std::min(db.size(), at + kExportPiece);
        for (size_t i = at; i < end; ++i) {
            pack_code(db.codes(), i, row.data());
            codes.write(row.data(), row.size());
            uint8_t le[8];
            store_le64(le, uint64_t(int64_t(db.label(i))));
            labels.write(le, sizeof le);
        }
        // The index's pages are let go as read: exporting a large index does not keep it resident.
        db.drop_resident(db.codes().code(at), (end - at) * size_t(db.words()) * 8);
        db.drop_resident(db.labels() + at, (end - at) * 4);
        shown.set(end);
    }
    // Both files are complete on disk before either is renamed into place: both or neither.
    commit_all({&codes, &labels});
    std::printf("exported %zu codes of %d bits to %s (uint8 (%zu, %zu)) and their labels to %s\n", db.size(),
                db.bits(), codes_path.c_str(), db.size(), bytes, labels_path.c_str());
}

void export_faiss(const IndexFile& db, const std::string& out) {
    write_faiss_binary_flat(out, db.codes());
    const int d = int(packed_code_bytes(db.bits()) * 8);
    std::printf("exported %zu codes of %d bits to %s (FAISS IndexBinaryFlat, d = %d%s)\n", db.size(), db.bits(),
                out.c_str(), d, d == db.bits() ? "" : ", zero-padded");
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc export --format faiss demo/fashion_train.idx demo/fashion_train.faiss\n"
    "  dlbhc export --format npy demo/fashion_train.idx demo/codes/\n";

int cmd_export(const std::vector<std::string>& argv) {
    Args a(argv, {"format"}, {"help"});
    if (print_help(a, {kHelp, kExamples})) return 0;
    a.require({"format"});
    const std::string format = a.get("format", "");
    if (format != "faiss" && format != "npy")
        throw std::invalid_argument("--format: expected faiss or npy, found '" + format + "'");
    const auto& pos = a.positional();
    if (pos.size() != 2)
        throw std::invalid_argument("expected INDEX.idx and OUT (usage: dlbhc export --format faiss|npy INDEX.idx OUT), "
                                    "found " + std::to_string(pos.size()) + " file name" + (pos.size() == 1 ? "" : "s"));
    const std::vector<NamedPath> outputs = export_outputs(format, pos[1]);
    check_export_outputs(format, pos[0], pos[1], outputs);
    const IndexFile db = IndexFile::open(pos[0]);
    if (format == "faiss") export_faiss(db, outputs[0].path);
    else export_npy(db, outputs[0].path, outputs[1].path);
    return 0;
}

}  // namespace dlbhc
