// tests/nn/test_tensor.cpp -- Tensor: layout, alignment, reshape, copies and moves.
#include <doctest/doctest.h>

#include <cstdint>

#include "nn/tensor.h"

using namespace dlbhc;

TEST_CASE("tensor: layout, alignment, reshape without reallocation, deep copy") {
    Tensor t(Shape(2, 3, 4, 5));
    CHECK(t.count() == 120);
    CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
    t.at(1, 2, 3, 4) = 7.0f;
    CHECK(t[119] == 7.0f);
    t.at(0, 1, 0, 0) = 3.0f;
    CHECK(t[20] == 3.0f);
    const float* before = t.data();
    t.reshape(Shape(4, 30));
    CHECK(t.data() == before);  // smaller or equal: same storage
    Tensor u = t;
    u[0] = 42;
    CHECK(t[0] != 42);
    CHECK(u.shape() == Shape(4, 30, 1, 1));
    CHECK(Shape(2, 3, 4, 5).str() == "(2, 3, 4, 5)");
    CHECK_THROWS_AS(t.reshape(Shape(-1, 2)), std::invalid_argument);
    Tensor m = std::move(u);
    CHECK(m.count() == 120);
    CHECK(u.count() == 0);  // a moved-from tensor is empty and still usable
    Tensor copy = u;
    CHECK(copy.count() == 0);
    u.reshape(Shape(2));
    u[1] = 5;
    CHECK(u[1] == 5);
}
