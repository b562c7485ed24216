// apps/training.h -- what `dlbhc train` runs on: the TRAIN net built for its data and the batches
// of the training and test data, as the trainer (nn/trainer.h) takes them.
#pragma once
#include <memory>
#include <string>

#include "apps/options.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "formats/caffe_spec.h"
#include "nn/net.h"
#include "nn/trainer.h"

namespace dlbhc {

// A Batcher seen as the trainer's BatchSource.
class BatcherSource : public BatchSource {
public:
    BatcherSource(std::unique_ptr<Dataset> ds, const TransformParam& tp, const BatcherOptions& bo)
        : ds_(std::move(ds)), b_(*ds_, tp, bo) {}
    void next(Tensor& data, Tensor& label) override { b_.next(data, label); }
    std::string state() const override { return b_.state().to_bytes(); }
    void restore(const std::string& s) override { b_.restore(BatcherState::from_bytes(s, "snapshot data position")); }
    size_t size() const override { return ds_->size(); }
    bool items_taken(uint64_t* n) const override { return b_.state().items_taken(n); }
    const Dataset& dataset() const { return *ds_; }
    Shape data_shape() const { return b_.data_shape(); }

private:
    std::unique_ptr<Dataset> ds_;
    Batcher b_;
};

struct TrainingSetup {
    NetSpec spec;
    std::unique_ptr<Net> net;                 // TRAIN phase
    std::unique_ptr<BatcherSource> train, test;  // test: null when there is no test data
    std::string train_name, test_name;
    size_t train_size = 0;
    int test_batches = 0;  // batches of the training batch size covering test_iter x the TEST batch size
};

// Opens the data (overrides or the data layers' sources), builds the TRAIN net sized to it.
TrainingSetup make_training_setup(const PipelineOptions& po, const std::string& train_data,
                                  const std::string& test_data, int test_iter);

}  // namespace dlbhc
