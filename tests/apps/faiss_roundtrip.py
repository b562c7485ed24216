#!/usr/bin/python3
"""The other side of tests/apps/test_export.cpp: loads what `dlbhc export` wrote with the real FAISS
and numpy, and writes what they see to a text file for the C++ test to check.

usage: faiss_roundtrip.py INDEX.faiss QUERIES.npy K NPY_PREFIX BITS RESULT.txt

RESULT.txt lines:
  index <ntotal> <d> <code_size> <class name>      faiss.read_index_binary(INDEX.faiss)
  npy <codes dtype> <codes shape> <labels dtype> <labels shape> <codes == index's stored codes>
  labels <label 0> <label 1> ...                   NPY_PREFIX + "labels.npy"
  bits <0/1 string>                                one per item: unpackbits(codes, bitorder='little')[:, :BITS]
  q <dist>:<id> <dist>:<id> ...                    one per query: index.search(queries, K), nearest first
"""
import sys

import faiss
import numpy as np


def main():
    index_path, queries_path, k, prefix, bits, result_path = sys.argv[1:]
    k, bits = int(k), int(bits)
    index = faiss.read_index_binary(index_path)
    queries = np.load(queries_path)
    distances, ids = index.search(queries, k)
    codes = np.load(prefix + "codes.npy")
    labels = np.load(prefix + "labels.npy")
    stored = faiss.vector_to_array(index.xb).reshape(index.ntotal, index.code_size)
    with open(result_path, "w") as out:
        out.write(f"index {index.ntotal} {index.d} {index.code_size} {type(index).__name__}\n")
        shape = "x".join(str(s) for s in codes.shape)
        out.write(f"npy {codes.dtype} {shape} {labels.dtype} {labels.shape[0]} {np.array_equal(codes, stored)}\n")
        out.write("labels " + " ".join(str(v) for v in labels) + "\n")
        for row in np.unpackbits(codes, axis=1, bitorder="little")[:, :bits]:
            out.write("bits " + "".join(str(b) for b in row) + "\n")
        for d_row, i_row in zip(distances, ids):
            out.write("q " + " ".join(f"{d}:{i}" for d, i in zip(d_row, i_row)) + "\n")


if __name__ == "__main__":
    main()
