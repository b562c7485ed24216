// apps/main.cpp -- the dlbhc command-line program: `dlbhc <command> [options]`.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "apps/commands.h"

namespace {

struct Command {
    const char* name;
    int (*run)(const std::vector<std::string>& args);
    const char* summary;
};

const Command kCommands[] = {
    {"summary", dlbhc::cmd_summary, "print a built-in net layer by layer (shapes, parameters, FLOPs, optional timing)"},
    {"version", dlbhc::cmd_version, "print the version and how this binary was built"},
};

void usage(FILE* out) {
    std::fprintf(out,
                 "dlbhc -- Deep Learning of Binary Hash Codes (Lin et al., CVPR-W 2015), from scratch in C++\n\n"
                 "usage: dlbhc <command> [options]     (dlbhc <command> --help for its options)\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
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
        try {
            return c.run(args);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "dlbhc %s: error: %s\n", c.name, e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "dlbhc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
