// tests/test_activations.cpp -- Sigmoid, Softmax, SoftmaxWithLoss, Accuracy: known answers,
// double-precision references, gradient checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "nn/accuracy.h"
#include "nn/sigmoid.h"
#include "nn/softmax.h"
#include "nn/softmax_loss.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

using namespace dlbhc;

TEST_CASE("sigmoid: known answer, reference, extremes") {
    Blob x("x", Shape(1, 5)), y("y");
    float in[5] = {0.0f, 2.0f, -2.0f, 100.0f, -100.0f};
    for (int i = 0; i < 5; ++i) x.data[i] = in[i];
    SigmoidLayer s("sig");
    s.reshape({&x}, {&y});
    s.forward({&x}, {&y});
    CHECK(y.data[0] == 0.5f);
    CHECK(y.data[1] == doctest::Approx(0.8807970779778823));
    CHECK(y.data[2] == doctest::Approx(0.11920292202211755));
    CHECK(y.data[3] == 1.0f);   // no overflow to NaN
    CHECK(y.data[4] >= 0.0f);
    CHECK(y.data[4] < 1e-40f);
    Rng rng(5);
    Blob a("a", Shape(3, 7, 2, 3)), b("b");
    fill_uniform(a.data, rng, -6, 6);
    s.reshape({&a}, {&b});
    s.forward({&a}, {&b});
    for (size_t i = 0; i < a.count(); ++i) CHECK(b.data[i] == doctest::Approx(1.0 / (1.0 + std::exp(-(double)a.data[i]))).epsilon(1e-6));
}

TEST_CASE("sigmoid: gradient check, separate and in place") {
    Rng rng(6);
    Blob x("x", Shape(2, 4, 3, 3)), y("y");
    fill_uniform(x.data, rng, -3, 3);
    SigmoidLayer s("sig");
    auto rep = check_layer_gradients(s, {&x}, {&y});
    CHECK_MESSAGE(rep.ok(0), rep.summary());
    SigmoidLayer s2("sig_inplace");
    auto rep2 = check_layer_gradients(s2, {&x}, {&x});
    CHECK_MESSAGE(rep2.ok(0), rep2.summary());
}

TEST_CASE("softmax: known answer and reference over channels with spatial positions") {
    Blob x("x", Shape(1, 3)), y("y");
    x.data[0] = 1; x.data[1] = 2; x.data[2] = 3;
    SoftmaxLayer sm("sm");
    sm.reshape({&x}, {&y});
    sm.forward({&x}, {&y});
    CHECK(y.data[0] == doctest::Approx(0.09003057317038046));
    CHECK(y.data[1] == doctest::Approx(0.24472847105479767));
    CHECK(y.data[2] == doctest::Approx(0.6652409557748219));

    Rng rng(7);
    Blob a("a", Shape(2, 5, 3, 2)), b("b");
    fill_uniform(a.data, rng, -50, 50);  // large values: the max subtraction must keep it finite
    sm.reshape({&a}, {&b});
    sm.forward({&a}, {&b});
    for (int n = 0; n < 2; ++n)
        for (int h = 0; h < 3; ++h)
            for (int w = 0; w < 2; ++w) {
                double m = -1e300, sum = 0;
                for (int k = 0; k < 5; ++k) m = std::fmax(m, a.data.at(n, k, h, w));
                for (int k = 0; k < 5; ++k) sum += std::exp(a.data.at(n, k, h, w) - m);
                for (int k = 0; k < 5; ++k)
                    CHECK(b.data.at(n, k, h, w) == doctest::Approx(std::exp(a.data.at(n, k, h, w) - m) / sum).epsilon(1e-5));
            }
}

TEST_CASE("softmax: gradient check") {
    Rng rng(8);
    Blob x("x", Shape(2, 4, 2, 3)), y("y");
    fill_uniform(x.data, rng, -2, 2);
    SoftmaxLayer sm("sm");
    auto rep = check_layer_gradients(sm, {&x}, {&y});
    CHECK_MESSAGE(rep.ok(0), rep.summary());
}

TEST_CASE("softmax with loss: known answer averaged over the batch") {
    Blob x("x", Shape(2, 3)), l("l", Shape(2)), loss("loss"), prob("prob");
    float s[6] = {1, 2, 3, 0, 0, 0};
    for (int i = 0; i < 6; ++i) x.data[i] = s[i];
    l.data[0] = 2; l.data[1] = 0;
    SoftmaxWithLossLayer L("loss");
    L.reshape({&x, &l}, {&loss, &prob});
    L.forward({&x, &l}, {&loss, &prob});
    // -log(0.66524096) = 0.40760596, -log(1/3) = 1.09861229; mean 0.75310912
    CHECK(loss.data[0] == doctest::Approx(0.75310912).epsilon(1e-6));
    CHECK(prob.data[2] == doctest::Approx(0.6652409557748219));
    // Backward with loss weight 2: dx = 2 * (p - onehot) / 2.
    loss.diff[0] = 2.0f;
    x.diff.zero();
    L.backward({&loss, &prob}, {&x, &l});
    CHECK(x.diff[0] == doctest::Approx(0.09003057317038046));
    CHECK(x.diff[2] == doctest::Approx(0.6652409557748219 - 1.0));
    CHECK(x.diff[3] == doctest::Approx(1.0 / 3 - 1.0));
}

TEST_CASE("softmax with loss: against a double-precision reference on random shapes") {
    Rng rng(10);
    const Shape shapes[] = {Shape(1, 2), Shape(7, 10), Shape(4, 5, 3, 2), Shape(32, 1000)};
    for (const Shape& s : shapes) {
        Blob x("x", s), l("l", Shape(s.n, 1, s.h, s.w)), loss("loss");
        fill_uniform(x.data, rng, -8, 8);
        for (size_t i = 0; i < l.count(); ++i) l.data[i] = (float)rng.below(s.c);
        SoftmaxWithLossLayer L("loss");
        L.reshape({&x, &l}, {&loss});
        L.forward({&x, &l}, {&loss});
        loss.diff[0] = 1.0f;
        x.diff.zero();
        L.backward({&loss}, {&x, &l});
        const int S = s.h * s.w;
        double want = 0;
        size_t bad = 0;
        for (int n = 0; n < s.n; ++n)
            for (int i = 0; i < S; ++i) {
                double m = -1e300, z = 0;
                // std::max, not std::fmax (g++ 12.2 for aarch64 crashes vectorising an fmax
                // reduction over floats widened to double); a NaN input gives a NaN loss either way.
                for (int k = 0; k < s.c; ++k) m = std::max(m, (double)x.data[((size_t)n * s.c + k) * S + i]);
                for (int k = 0; k < s.c; ++k) z += std::exp(x.data[((size_t)n * s.c + k) * S + i] - m);
                int y = (int)l.data[(size_t)n * S + i];
                want -= x.data[((size_t)n * s.c + y) * S + i] - m - std::log(z);
                for (int k = 0; k < s.c; ++k) {
                    size_t j = ((size_t)n * s.c + k) * S + i;
                    double g = (std::exp(x.data[j] - m) / z - (k == y)) / (s.n * S);
                    bad += std::fabs(x.diff[j] - g) > 1e-6 + 1e-5 * std::fabs(g);
                }
            }
        want /= s.n * S;
        CHECK_MESSAGE(loss.data[0] == doctest::Approx(want).epsilon(1e-5), "shape ", s.str());
        CHECK_MESSAGE(bad == 0, "shape ", s.str());
    }
}

TEST_CASE("softmax with loss: gradient check, spatial labels, ignore_label, bad labels") {
    Rng rng(9);
    Blob x("x", Shape(3, 4, 2, 2)), l("l", Shape(3, 1, 2, 2)), loss("loss");
    fill_uniform(x.data, rng, -2, 2);
    for (size_t i = 0; i < l.count(); ++i) l.data[i] = (float)rng.below(4);
    SoftmaxWithLossLayer L("loss");
    GradCheckOptions opt;
    opt.check_bottom = {true, false};
    auto rep = check_layer_gradients(L, {&x, &l}, {&loss}, opt);
    CHECK_MESSAGE(rep.ok(0), rep.summary());

    SoftmaxLossParam ip;
    ip.has_ignore_label = true;
    ip.ignore_label = 3;
    SoftmaxWithLossLayer Li("loss_ignore", ip);
    auto rep2 = check_layer_gradients(Li, {&x, &l}, {&loss}, opt);
    CHECK_MESSAGE(rep2.ok(0), rep2.summary());

    l.data[5] = 0.7f;  // not an integer
    L.reshape({&x, &l}, {&loss});
    CHECK_THROWS_WITH_AS(L.forward({&x, &l}, {&loss}), doctest::Contains("not an integer"), std::invalid_argument);
    l.data[5] = 3.3f;  // with ignore_label 3, 3.3 must not be taken for 3
    Li.reshape({&x, &l}, {&loss});
    CHECK_THROWS_WITH_AS(Li.forward({&x, &l}, {&loss}), doctest::Contains("not an integer"), std::invalid_argument);
    l.data[5] = NAN;
    CHECK_THROWS_AS(L.forward({&x, &l}, {&loss}), std::invalid_argument);
    l.data[5] = 4;  // out of range
    L.reshape({&x, &l}, {&loss});
    CHECK_THROWS_WITH_AS(L.forward({&x, &l}, {&loss}), doctest::Contains("not a class index"), std::invalid_argument);
    Blob bad("bad", Shape(2, 1, 2, 2));
    CHECK_THROWS_AS(L.reshape({&x, &bad}, {&loss}), std::invalid_argument);
}

TEST_CASE("accuracy: top-1 and top-2; a tie counts as wrong, as in Caffe") {
    Blob x("x", Shape(3, 3)), l("l", Shape(3)), acc("acc");
    float s[9] = {0.1f, 0.7f, 0.2f,   // label 1: correct
                  0.5f, 0.3f, 0.2f,   // label 2: third -> wrong at top-1 and top-2
                  0.4f, 0.4f, 0.2f};  // label 1: tied with class 0 -> wrong at top-1, right at top-2
    for (int i = 0; i < 9; ++i) x.data[i] = s[i];
    l.data[0] = 1; l.data[1] = 2; l.data[2] = 1;
    AccuracyLayer a1("acc1", 1), a2("acc2", 2);
    a1.reshape({&x, &l}, {&acc});
    a1.forward({&x, &l}, {&acc});
    CHECK(acc.data[0] == doctest::Approx(1.0 / 3));
    a2.reshape({&x, &l}, {&acc});
    a2.forward({&x, &l}, {&acc});
    CHECK(acc.data[0] == doctest::Approx(2.0 / 3));
    l.data[1] = 1;  // second item: now the label is second best
    a2.forward({&x, &l}, {&acc});
    CHECK(acc.data[0] == doctest::Approx(1.0));
    // A collapsed net (every score equal) is never right.
    x.data.fill(0.25f);
    a1.forward({&x, &l}, {&acc});
    CHECK(acc.data[0] == 0.0f);
    l.data[0] = 0.5f;
    CHECK_THROWS_WITH_AS(a1.forward({&x, &l}, {&acc}), doctest::Contains("not a class index"), std::invalid_argument);
}
