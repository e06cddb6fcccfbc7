// Metrics on hand-computed examples (ignore label, absent classes, perfect and empty cases).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "errseg/eval/confusion.hpp"

using errseg::ConfusionMatrix;

TEST_CASE("confusion matrix: IoU, mIoU and pixel accuracy by hand") {
    // 3 classes, 10 pixels, one ignored.
    //  gt:   0 0 0 1 1 1 2 2 255 0
    //  pred: 0 0 1 1 1 2 2 0 2   0
    std::vector<int> gt = {0, 0, 0, 1, 1, 1, 2, 2, 255, 0};
    std::vector<int> pr = {0, 0, 1, 1, 1, 2, 2, 0, 2, 0};
    ConfusionMatrix cm(3);
    cm.add(gt.data(), pr.data(), gt.size());
    // class 0: tp 3, gt 4, pred 4 -> IoU 3/5
    // class 1: tp 2, gt 3, pred 3 -> IoU 2/4
    // class 2: tp 1, gt 2, pred 2 -> IoU 1/3
    auto iou = cm.iou();
    CHECK(iou[0] == doctest::Approx(3.0 / 5));
    CHECK(iou[1] == doctest::Approx(2.0 / 4));
    CHECK(iou[2] == doctest::Approx(1.0 / 3));
    CHECK(cm.mean_iou() == doctest::Approx((3.0 / 5 + 0.5 + 1.0 / 3) / 3));
    CHECK(cm.pixel_accuracy() == doctest::Approx(6.0 / 9));
    CHECK(cm.count(0, 1) == 1);
    CHECK(cm.count(2, 0) == 1);
}

TEST_CASE("classes absent from both ground truth and prediction are left out of the mean") {
    std::vector<int> gt = {0, 0, 1, 1};
    std::vector<int> pr = {0, 0, 1, 0};
    ConfusionMatrix cm(5);
    cm.add(gt.data(), pr.data(), gt.size());
    auto iou = cm.iou();
    CHECK(iou[0] == doctest::Approx(2.0 / 3));
    CHECK(iou[1] == doctest::Approx(0.5));
    CHECK(std::isnan(iou[2]));
    CHECK(std::isnan(iou[4]));
    CHECK(cm.mean_iou() == doctest::Approx((2.0 / 3 + 0.5) / 2));
}

TEST_CASE("a class predicted but never in ground truth counts with IoU 0") {
    std::vector<int> gt = {0, 0, 0, 0};
    std::vector<int> pr = {0, 0, 0, 3};
    ConfusionMatrix cm(4);
    cm.add(gt.data(), pr.data(), gt.size());
    CHECK(cm.iou()[3] == doctest::Approx(0.0));
    CHECK(cm.mean_iou() == doctest::Approx((3.0 / 4 + 0.0) / 2));
}

TEST_CASE("out-of-range labels are errors, the ignore label is not") {
    ConfusionMatrix cm(3, 255);
    std::vector<int> gt = {7}, pr = {0};
    CHECK_THROWS_WITH_AS(cm.add(gt.data(), pr.data(), 1), doctest::Contains("ground-truth label 7"), errseg::Error);
    std::vector<int> gt2 = {0}, pr2 = {3};
    CHECK_THROWS_WITH_AS(cm.add(gt2.data(), pr2.data(), 1), doctest::Contains("predicted label 3"), errseg::Error);
    std::vector<int> gt3 = {255}, pr3 = {9};
    cm.add(gt3.data(), pr3.data(), 1);  // ignored pixel: prediction not even looked at
    CHECK(std::isnan(cm.pixel_accuracy()));
}
