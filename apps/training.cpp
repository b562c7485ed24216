// apps/training.cpp -- see training.h.
#include "apps/training.h"

#include <stdexcept>

#include "apps/net_setup.h"
#include "formats/net_builder.h"
#include "io/path.h"

namespace dlbhc {

TrainingSetup make_training_setup(const PipelineOptions& po, const std::string& train_data,
                                  const std::string& test_data, int test_iter) {
    TrainingSetup s;
    s.spec = load_net_spec(po.net_path);
    check_latent_size(s.spec, Phase::Train, po.latent_bits);
    const std::string base = parent_folder(po.net_path);
    const LayerSpec* train_layer = s.spec.data_layer(Phase::Train);
    const LayerSpec* test_layer = s.spec.data_layer(Phase::Test);
    auto train_ds = open_for_layer(train_data, train_layer, base, po, s.train_name);
    if (!train_ds)
        throw std::invalid_argument(po.net_path + ": no TRAIN data layer and no --train-data: nothing to train on");
    s.train_size = train_ds->size();
    TransformParam ttp = transform_for(train_layer, Phase::Train, base, po, train_ds->channels());
    const int batch = data_batch(train_layer, po.batch, 32);
    Transformer tf(ttp);
    NetBuildOptions nbo = build_options(po, tf, *train_ds, batch);
    s.net = build_net(s.spec, Phase::Train, nbo);

    BatcherOptions bo;
    bo.batch_size = batch;
    bo.shuffle = true;
    bo.seed = po.seed;
    bo.prefetch = po.prefetch;
    // The background thread prepares batches with one thread while training uses every core
    // (two OpenMP teams on the same cores slow both down badly).
    bo.threads = po.prefetch ? 1 : 0;
    s.train = std::make_unique<BatcherSource>(std::move(train_ds), ttp, bo);
    if (s.train->data_shape() != s.net->blob("data")->shape())
        throw std::logic_error("training batches and the net's input differ in shape");

    if (test_data != "none") {
        auto test_ds = open_for_layer(test_data, test_layer, base, po, s.test_name);
        if (test_ds) {
            TransformParam etp =
                transform_for(test_layer ? test_layer : train_layer, Phase::Test, base, po, test_ds->channels());
            BatcherOptions eo = bo;
            eo.shuffle = false;
            eo.seed = po.seed + 1;
            const int test_bs = data_batch(test_layer, 0, batch);
            const int iters = test_iter > 0 ? test_iter : int((test_ds->size() + size_t(test_bs) - 1) / size_t(test_bs));
            s.test_batches = int((int64_t(iters) * test_bs + batch - 1) / batch);
            s.test = std::make_unique<BatcherSource>(std::move(test_ds), etp, eo);
            if (s.test->data_shape() != s.net->blob("data")->shape())
                throw std::invalid_argument("test images (" + s.test_name + ") come out in another shape than the training images");
        }
    }
    return s;
}

}  // namespace dlbhc
