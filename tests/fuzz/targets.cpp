// tests/fuzz/targets.cpp -- the table of fuzz targets (see targets.h).
#include "tests/fuzz/targets.h"

#include <cstdio>
#include <cstdlib>

namespace dlbhc::fuzz {

const std::vector<Target>& targets() {
    static const std::vector<Target> all = {
        {"idx", fuzz_idx, "IDX files, plain or gzip (data/idx, data/gzip + stb's inflate)"},
        {"cifar", fuzz_cifar, "CIFAR-10 binary batches (data/cifar)"},
        {"list", fuzz_list, "Caffe image list files (data/image_folder parse_image_list)"},
        {"image", fuzz_image, "JPEG/PNG decoding (data/image_io over stb_image)"},
        {"prototxt", fuzz_prototxt, "text format + Caffe net definitions (nn/prototxt, nn/caffe_spec)"},
        {"solver", fuzz_solver, "Caffe solver files (nn/solver_spec)"},
        {"caffemodel", fuzz_caffemodel, "protobuf wire + .caffemodel V0/V1/V2 (nn/protowire, nn/caffemodel)"},
        {"binaryproto", fuzz_binaryproto, "protobuf wire + .binaryproto mean files (nn/caffemodel)"},
        {"onnx", fuzz_onnx, "protobuf wire + ONNX models and tensors (nn/onnx, nn/onnx_weights)"},
        {"npy", fuzz_npy, ".npy arrays (nn/npy)"},
        {"weights", fuzz_weights, "dlbhc weights files and training snapshots (nn/weights_file, nn/snapshot)"},
        {"index", fuzz_index, "dlbhc index files, mmap'ed (search/index_file)"},
    };
    return all;
}

const Target* find_target(const std::string& name) {
    for (const auto& t : targets())
        if (name == t.name) return &t;
    return nullptr;
}

void contract_violation(const std::string& what) {
    std::fprintf(stderr, "dlbhc fuzz: contract violation: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace dlbhc::fuzz
