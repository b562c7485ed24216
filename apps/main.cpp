// apps/main.cpp -- the dlbhc command-line program: `dlbhc <command> [options]`.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "io/file_io.h"

namespace {

struct Command {
    const char* name;
    int (*run)(const std::vector<std::string>& args);
    const char* summary;
};

const Command kCommands[] = {
    {"train", dlbhc::cmd_train, "fine-tune a DLBHC net from a Caffe solver.prototxt (snapshots, --resume, tests)"},
    {"encode", dlbhc::cmd_encode, "print the hash codes of images (and write latent outputs / features as .npy)"},
    {"index", dlbhc::cmd_index, "encode a dataset with a trained net into a search index (codes, labels, names, features)"},
    {"merge", dlbhc::cmd_merge, "concatenate indexes (the shards of `index --shard I/N`) into one, atomically"},
    {"info", dlbhc::cmd_info, "what an index or weights file holds: provenance (net, weights, data), code health, tensors"},
    {"export", dlbhc::cmd_export, "write an index's codes for other engines: a FAISS IndexBinaryFlat file or .npy"},
    {"query", dlbhc::cmd_query, "the top k of an index for one image: coarse (Hamming) or coarse + fine (re-ranked)"},
    {"eval", dlbhc::cmd_eval, "the paper's retrieval protocol: mAP@1000, mAP, P@k, P(r<=2); JSON, SVG, HTML report"},
    {"audit", dlbhc::cmd_audit, "run a net on one input: per-layer shapes, FLOPs, time, activation ranges; --dump .npy"},
    {"convert", dlbhc::cmd_convert, "convert Caffe/ONNX weights or a Caffe mean file to a dlbhc weights file"},
    {"net", dlbhc::cmd_net, "read a Caffe net or solver prototxt, build it for a phase and print it (or its errors)"},
    {"summary", dlbhc::cmd_summary, "print a built-in net layer by layer (shapes, parameters, FLOPs, optional timing)"},
    {"version", dlbhc::cmd_version, "print the version and how this binary was built"},
};

void usage(FILE* out) {
    std::fprintf(out,
                 "dlbhc -- Deep Learning of Binary Hash Codes (Lin et al., CVPR-W 2015), from scratch in C++\n\n"
                 "usage: dlbhc <command> [options]     (dlbhc <command> --help for its options)\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
    std::fprintf(out,
                 "\nEach option may be given once. An option's value may not look like an option (--name):\n"
                 "`--out --no-features` is refused as a forgotten value; name such a file ./--name.\n");
}

// Test-only (tests/apps/test_stream_memory.cpp, bench/bench_memory.cpp): with
// DLBHC_TEST_PEAK_FILE=<file> set, a command that ends writes its peak resident memory, the
// VmHWM line of /proc/self/status ("VmHWM:   35420 kB"), to <file>. Its parent cannot learn it
// otherwise: the ru_maxrss of a child started by posix_spawn (vfork, then exec) starts at the
// parent's own size. Unset (always, outside tests), it costs a getenv.
int report_peak_memory(int status) {
    const char* file = std::getenv("DLBHC_TEST_PEAK_FILE");
    if (!file) return status;
    FILE* in = std::fopen("/proc/self/status", "r");
    FILE* out = std::fopen(file, "w");
    char line[256];
    while (in && out && std::fgets(line, sizeof line, in))
        if (std::strncmp(line, "VmHWM:", 6) == 0) std::fputs(line, out);
    if (in) std::fclose(in);
    if (out) std::fclose(out);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    std::vector<std::string> args(argv + 2, argv + argc);
    for (const auto& c : kCommands) {
        if (std::strcmp(argv[1], c.name) != 0) continue;
        // SIGXFSZ ignored and SIGBUS on a truncated mapped file reported (io/file_io.h): writers
        // report "File too large" and remove their temporaries instead of dying mid-write.
        static const std::string program = std::string("dlbhc ") + c.name;
        dlbhc::install_file_signal_handlers(program.c_str());
        try {
            return report_peak_memory(c.run(args));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "dlbhc %s: error: %s\n", c.name, e.what());
            return report_peak_memory(1);
        }
    }
    std::fprintf(stderr, "dlbhc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
