"""DisentanglementMetric: all keys, agreement with MMPose, and that it can fail."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmpose.evaluation import EPE, PCKAccuracy
from mmselfdis.evaluation import (DisentanglementMetric, DisentanglementMetricHook,
                                  render_truth)
from mmselfdis.evaluation.metrics.disentanglement_metric import _to_crop
from tests.test_evaluation._helpers import (batches, make_synthhands, onehand_dataset,
                                            run_metric, synth_dataset, tiny_model)

POSE_KEYS = ('PCK_x', 'EPE_x', 'PCK_mix', 'EPE_mix', 'PCK_mix_y', 'PCK_copy_app',
             'EPE_copy_app')
CODE_KEYS = ('app_recall@1', 'app_recall@5', 'pose_recall@1', 'leak_app_ratio',
             'leak_pose_ratio')
PAIRED_KEYS = ('paired_L1', 'paired_PSNR', 'paired_SSIM', 'paired_L1_copy_pose',
               'paired_L1_copy_app')


@pytest.fixture(scope='module')
def synth_root(tmp_path_factory):
    return make_synthhands(str(tmp_path_factory.mktemp('synth') / 'synthhands'), num_poses=40)


@pytest.fixture(scope='module')
def synth_batches(synth_root):
    return batches(synth_dataset(synth_root, 'train'), batch_size=16, limit=32)


@pytest.fixture(scope='module')
def model():
    return tiny_model('unet')


def _disent(metrics: dict) -> dict:
    return {k.split('/', 1)[1]: v for k, v in metrics.items() if k.startswith('disent/')}


def _oracle(metric: DisentanglementMetric):
    """A perfect pose estimator: looks each image up among the collected crops."""
    imgs = torch.from_numpy(np.stack([r['img'] for r in metric.results])).float()
    crops = np.stack([_to_crop(r['keypoints'], r['center'], r['scale'], r['input_size'])
                      for r in metric.results])

    def predict(estimator, x, flips):
        d = (x.cpu()[:, None] - imgs[None]).abs().flatten(2).mean(2)
        return crops[d.argmin(1).numpy()]

    return predict


def _collect(model, data_batches, **kwargs) -> DisentanglementMetric:
    metric = DisentanglementMetric(**kwargs)
    metric.bind_model(model)
    with torch.no_grad():
        for batch in data_batches:
            metric.process(batch, [s.to_dict() for s in model.test_step(batch)])
    return metric


def test_all_keys_finite_and_equal_to_mmpose_metrics(model, synth_batches):
    metric = DisentanglementMetric()
    metric.bind_model(model)
    metrics, _ = run_metric(model, [metric, EPE(), PCKAccuracy(thr=0.2)], synth_batches)
    ours = _disent(metrics)
    assert set(ours) == set(POSE_KEYS + CODE_KEYS + PAIRED_KEYS)
    for key, value in ours.items():
        assert math.isfinite(value), key
    # On x itself the model's own estimator gives exactly MMPose's PCK and EPE.
    assert ours['EPE_x'] == pytest.approx(float(metrics['EPE']), rel=1e-5)
    assert ours['PCK_x'] == pytest.approx(float(metrics['PCK']), abs=1e-9)
    assert 0 <= ours['paired_SSIM'] <= 1 and ours['paired_L1'] > 0


def test_real_samples_without_render_parameters(model):
    metric = DisentanglementMetric()
    metric.bind_model(model)
    metrics, _ = run_metric(model, [metric], batches(onehand_dataset(), batch_size=4))
    ours = _disent(metrics)
    assert set(ours) == set(POSE_KEYS + CODE_KEYS)  # no render parameters: no paired_*
    assert all(math.isfinite(v) for v in ours.values()), ours
    with pytest.raises(ValueError, match='SynthHands'):
        metric = _collect(model, batches(onehand_dataset(), batch_size=4), paired=True)
        metric.compute_metrics(metric.results)


def test_mix_copying_the_appearance_image_fails_pose_consistency(model, synth_batches,
                                                                 monkeypatch):
    metric = _collect(model, synth_batches)
    metric._predict_crop = _oracle(metric)
    monkeypatch.setattr(model, 'mix', lambda img_pose, img_app: img_app.float())
    m = metric.compute_metrics(metric.results)
    assert m['PCK_x'] == 1.0 and m['EPE_x'] < 1e-6
    assert m['PCK_mix'] < 0.6 and m['EPE_mix'] > 3  # the mix shows y's pose, not x's
    assert m['PCK_mix_y'] == 1.0
    assert m['PCK_mix'] == m['PCK_copy_app'] and m['EPE_mix'] == m['EPE_copy_app']
    assert m['app_recall@1'] == 1.0  # â(mix) = a(y): appearance perfectly kept
    assert m['pose_recall@1'] < 0.2  # p̂(mix) = p(y) != p(x)
    assert m['paired_L1'] == pytest.approx(m['paired_L1_copy_app'])


def test_mix_copying_the_pose_image_fails_appearance_retrieval(model, synth_batches,
                                                               monkeypatch):
    metric = _collect(model, synth_batches)
    metric._predict_crop = _oracle(metric)
    monkeypatch.setattr(model, 'mix', lambda img_pose, img_app: img_pose.float())
    m = metric.compute_metrics(metric.results)
    assert m['PCK_mix'] == 1.0 and m['EPE_mix'] < 1e-6  # pose perfectly kept
    assert m['PCK_mix_y'] < 0.6 and m['PCK_copy_app'] < 0.6
    assert m['app_recall@1'] == 0.0  # â(mix) = a(x) is nearest to a(x), never a(y)
    assert m['pose_recall@1'] == 1.0
    assert m['paired_L1'] == pytest.approx(m['paired_L1_copy_pose'])


def test_pairs_never_share_a_pose(model, synth_batches):
    metric = _collect(model, synth_batches)
    ids = [r['pose_id'] for r in metric.results]
    assert any(a == b for a, b in zip(ids, ids[1:]))  # SynthHands pairs sit side by side
    shift = metric._pair_shift(metric.results)
    assert shift == 2 and all(ids[i] != ids[i - shift] for i in range(len(ids)))
    assert _collect(model, synth_batches, pair_shift=1)._pair_shift(metric.results) == 1


def test_true_render_of_a_sample_with_itself_is_the_sample(model, synth_batches):
    metric = _collect(model, synth_batches[:1])
    for r in metric.results[:8]:
        x = torch.from_numpy(r['img'])
        assert torch.equal(render_truth(r, r, x), x)
    a, b = metric.results[0], metric.results[2]
    assert not torch.equal(render_truth(a, b, torch.from_numpy(a['img'])),
                           torch.from_numpy(a['img']))


def test_clear_errors(model, synth_batches):
    metric = DisentanglementMetric()
    metric.process(synth_batches[0], [s.to_dict() for s in model.test_step(synth_batches[0])])
    with pytest.raises(RuntimeError, match='DisentanglementMetricHook'):
        metric.compute_metrics(metric.results)

    class PlainEstimator(torch.nn.Module):
        pass

    with pytest.raises(ValueError, match='SelfDisPoseEstimator'):
        metric.bind_model(PlainEstimator())
    metric.bind_model(model)
    with pytest.raises(ValueError, match='at least 2 samples'):
        metric.compute_metrics(metric.results[:1])
    with pytest.raises(ValueError, match='pose_estimator'):
        DisentanglementMetric(pose_estimator=dict(config='x.py'))


def test_hook_binds_the_runner_model_to_val_and_test_metrics(model):
    val_metric, test_metric, other = DisentanglementMetric(), DisentanglementMetric(), EPE()
    wrapped = SimpleNamespace(module=model)  # not an MMEngine wrapper: bound as is
    runner = SimpleNamespace(
        model=model,
        val_loop=SimpleNamespace(evaluator=SimpleNamespace(metrics=[val_metric, other])),
        test_loop=SimpleNamespace(evaluator=SimpleNamespace(metrics=[test_metric])))
    hook = DisentanglementMetricHook()
    hook.before_val(runner)
    assert val_metric.model is model and test_metric.model is None
    hook.before_test(runner)
    assert test_metric.model is model
    runner.model = wrapped
    with pytest.raises(ValueError, match='SelfDisPoseEstimator'):
        hook.before_test(runner)


def test_frozen_pose_estimator_from_config_and_checkpoint(model, tmp_path):
    from tests.test_evaluation.test_figures import BASELINE, _checkpoint
    ckpt = _checkpoint(BASELINE, str(tmp_path / 'baseline.pth'))
    data = batches(onehand_dataset(), batch_size=4)
    metric = _collect(model, data, pose_estimator=dict(config=BASELINE, checkpoint=ckpt))
    m = metric.compute_metrics(metric.results)
    referee = metric._pose_estimator
    assert type(referee).__name__ == 'TopdownPoseEstimator' and not referee.training
    assert all(not p.requires_grad for p in referee.parameters())
    own = _collect(model, data).compute_metrics(metric.results)
    assert m['EPE_x'] != own['EPE_x']  # judged by the referee, not by the model
    assert m['app_recall@1'] == own['app_recall@1']  # codes still come from the model
