// tests/nn/test_activations.cpp -- Sigmoid, Softmax, SoftmaxWithLoss, Accuracy: known answers, the
// naive references of nn/ in double, label errors. The gradients are checked in
// tests/nn/test_ops.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "nn/accuracy.h"
#include "nn/sigmoid.h"
#include "nn/softmax.h"
#include "nn/softmax_loss.h"
#include "tests/support/tensors.h"

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
    Tensor want(a.shape());
    sigmoid_forward_naive(want.data(), a.data.data(), a.count());
    for (size_t i = 0; i < a.count(); ++i) CHECK(b.data[i] == doctest::Approx(want[i]).epsilon(1e-6));
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
    Tensor want(a.shape());
    softmax_forward_naive(want.data(), a.data.data(), a.shape());
    for (size_t i = 0; i < a.count(); ++i) CHECK(b.data[i] == doctest::Approx(want[i]).epsilon(1e-5));
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
        // The loss and the probabilities from the naive references in double; the gradient is
        // (p - onehot(label)) / V, V = N * H * W, written out (too many entries here for finite
        // differences; tests/nn/test_ops.cpp checks it that way on small shapes).
        const int S = s.h * s.w;
        const std::vector<double> xd(x.data.data(), x.data.data() + x.count()), ld(l.data.data(), l.data.data() + l.count());
        std::vector<double> p(x.count());
        softmax_forward_naive(p.data(), xd.data(), s);
        const double want = softmax_loss_naive(xd.data(), ld.data(), s, SoftmaxLossParam{});
        size_t bad = 0;
        for (int n = 0; n < s.n; ++n)
            for (int i = 0; i < S; ++i)
                for (int k = 0; k < s.c; ++k) {
                    const size_t j = ((size_t)n * s.c + k) * S + i;
                    const double g = (p[j] - (k == (int)ld[(size_t)n * S + i])) / (s.n * S);
                    bad += !(std::fabs(x.diff[j] - g) <= 1e-6 + 1e-5 * std::fabs(g));
                }
        CHECK_MESSAGE(loss.data[0] == doctest::Approx(want).epsilon(1e-5), "shape ", s.str());
        CHECK_MESSAGE(bad == 0, "shape ", s.str());
    }
}

TEST_CASE("softmax with loss: bad labels and label shapes are errors, also with ignore_label") {
    // The gradients, with spatial labels and ignore_label, are in tests/nn/test_ops.cpp.
    Rng rng(9);
    Blob x("x", Shape(3, 4, 2, 2)), l("l", Shape(3, 1, 2, 2)), loss("loss");
    fill_uniform(x.data, rng, -2, 2);
    for (size_t i = 0; i < l.count(); ++i) l.data[i] = (float)rng.below(4);
    SoftmaxWithLossLayer L("loss");
    SoftmaxLossParam ip;
    ip.has_ignore_label = true;
    ip.ignore_label = 3;
    SoftmaxWithLossLayer Li("loss_ignore", ip);
    L.reshape({&x, &l}, {&loss});
    L.forward({&x, &l}, {&loss});
    Li.reshape({&x, &l}, {&loss});
    Li.forward({&x, &l}, {&loss});

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
