"""DisentanglementMetric: all keys, agreement with MMPose, and that it can fail."""
import logging
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmpose.evaluation import EPE, PCKAccuracy
from mmselfdis.engine.hooks import DisentanglementMetricHook
from mmselfdis.evaluation import DisentanglementMetric
from mmselfdis.evaluation.metrics import disentanglement_metric, to_crop
from mmselfdis.visualization import render_truth, render_truth_masks
from tests.test_evaluation._helpers import (VAL_PIPELINE, batches, make_synthhands,
                                            onehand_dataset, run_metric, synth_dataset,
                                            tiny_model)

POSE = ('PCK_x', 'EPE_x', 'PCK_mix', 'EPE_mix', 'PCK_mix_y', 'PCK_copy_app', 'EPE_copy_app')
SELF_KEYS = tuple('self_' + k for k in POSE)
TRUTH_KEYS = ('PCK_truth', 'EPE_truth', 'PCK_mix_truth_ratio', 'PCK_mix_gain')
CODE_KEYS = ('app_recall@1', 'app_recall@5', 'pose_recall@1', 'leak_app_ratio',
             'leak_pose_ratio')
PAIRED_KEYS = ('paired_L1', 'paired_PSNR', 'paired_SSIM', 'paired_L1_copy_pose',
               'paired_L1_copy_app', 'paired_SSIM_copy_app', 'paired_L1_copy_app_aligned',
               'paired_SSIM_copy_app_aligned', 'app_recall_truth@1', 'app_recall_truth@5',
               'hand_L1', 'hand_tone_error', 'hand_tone_corr', 'hand_L1_copy_pose',
               'hand_tone_error_copy_pose', 'hand_tone_corr_copy_pose', 'hand_tone_bias',
               'hand_tone_bias_copy_pose', 'hand_core_tone_error',
               'hand_core_tone_error_copy_pose', 'hand_tone_error_copy_app',
               'hand_tone_corr_copy_app')


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
    """A perfect pose reader: looks each image up among the collected crops."""
    imgs = torch.from_numpy(np.stack([r['img'] for r in metric.results])).float()
    crops = np.stack([to_crop(r['keypoints'], r['center'], r['scale'], r['input_size'])
                      for r in metric.results])

    def predict(estimator, x, flips=None):
        d = (x.cpu()[:, None].float() - imgs[None]).abs().flatten(2).mean(2)
        return crops[d.argmin(1).numpy()]

    return predict


def _plain_judge():
    """A tiny plain pose estimator (other weights than the model's pose branch)."""
    from mmpose.registry import MODELS
    from tests.test_models._tiny import model_cfg
    cfg = model_cfg('unet', in_channels=1)
    cfg.pop('selfdis')
    cfg['type'] = 'TopdownPoseEstimator'
    torch.manual_seed(3)
    judge = MODELS.build(cfg)
    judge.init_weights()
    return judge.eval()


def _collect(model, data_batches, **kwargs) -> DisentanglementMetric:
    metric = DisentanglementMetric(**kwargs)
    metric.bind_model(model)
    with torch.no_grad():
        for batch in data_batches:
            metric.process(batch, [s.to_dict() for s in model.test_step(batch)])
    return metric


def test_without_a_judge_only_self_graded_keys_and_a_loud_warning(model, synth_batches,
                                                                    monkeypatch):
    logged = []
    monkeypatch.setattr(disentanglement_metric, 'print_log',
                        lambda msg, logger=None, level=logging.INFO: logged.append((level, msg)))
    metric = DisentanglementMetric(judge=None)
    metric.bind_model(model)
    metrics, _ = run_metric(model, [metric, EPE(), PCKAccuracy(thr=0.2)], synth_batches)
    warnings = [msg for level, msg in logged if level == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith('DisentanglementMetric: NO JUDGE')
    assert 'tools/train_judge.py' in warnings[0]
    ours = _disent(metrics)
    assert set(ours) == {'judged'} | set(SELF_KEYS + CODE_KEYS + PAIRED_KEYS)
    assert ours['judged'] == 0.0 and 'PCK_mix' not in ours  # no unlabelled self-grading
    for key, value in ours.items():
        assert math.isfinite(value), key
    # On x itself the model's own estimator gives exactly MMPose's PCK and EPE.
    assert ours['self_EPE_x'] == pytest.approx(float(metrics['EPE']), rel=1e-5)
    assert ours['self_PCK_x'] == pytest.approx(float(metrics['PCK']), abs=1e-9)
    assert 0 <= ours['paired_SSIM'] <= 1 and ours['paired_L1'] > 0


def test_with_a_judge_all_keys_and_the_judge_reads_the_poses(model, synth_batches):
    metric = DisentanglementMetric()
    metric.bind_model(model)
    judge = _plain_judge()
    metric.bind_judge(judge)
    metrics, _ = run_metric(model, [metric, EPE(), PCKAccuracy(thr=0.2)], synth_batches)
    ours = _disent(metrics)
    assert set(ours) == ({'judged', 'PCK_sticks'} | set(POSE + TRUTH_KEYS + SELF_KEYS +
                                                        CODE_KEYS + PAIRED_KEYS))
    assert ours['judged'] == 1.0
    assert all(math.isfinite(ours[k]) for k in POSE + SELF_KEYS + PAIRED_KEYS)
    # the judge's PCK/EPE on x are the judge's own (MMPose's EPE is the model's)
    judge_metrics, _ = run_metric(judge, [EPE()], synth_batches)
    assert ours['EPE_x'] == pytest.approx(float(judge_metrics['EPE']), rel=1e-5)
    assert ours['self_EPE_x'] == pytest.approx(float(metrics['EPE']), rel=1e-5)
    assert ours['EPE_x'] != ours['self_EPE_x']


def test_real_samples_without_render_parameters(model):
    metric = DisentanglementMetric()
    metric.bind_model(model)
    metrics, _ = run_metric(model, [metric], batches(onehand_dataset(), batch_size=4))
    ours = _disent(metrics)
    # no judge, no render parameters: self-graded pose keys, no paired_*
    assert set(ours) == {'judged'} | set(SELF_KEYS + CODE_KEYS)
    assert all(math.isfinite(v) for v in ours.values()), ours
    with pytest.raises(ValueError, match='SynthHands'):
        metric = _collect(model, batches(onehand_dataset(), batch_size=4), paired=True)
        metric.compute_metrics(metric.results)


def _with_oracle(metric, monkeypatch):
    """Both readers (judge and model) become perfect lookups among the collected crops."""
    monkeypatch.setattr(disentanglement_metric, 'predict_crop_keypoints', _oracle(metric))
    metric.bind_judge(_plain_judge())


def test_mix_copying_the_appearance_image_fails_pose_consistency(model, synth_batches,
                                                                 monkeypatch):
    metric = _collect(model, synth_batches)
    _with_oracle(metric, monkeypatch)
    monkeypatch.setattr(model, 'mix', lambda img_pose, img_app: img_app.float())
    m = metric.compute_metrics(metric.results)
    assert m['PCK_x'] == 1.0 and m['EPE_x'] < 1e-6
    assert m['PCK_mix'] < 0.6 and m['EPE_mix'] > 3  # the mix shows y's pose, not x's
    assert m['PCK_mix_y'] == 1.0
    assert m['PCK_mix'] == m['PCK_copy_app'] and m['EPE_mix'] == m['EPE_copy_app']
    assert m['app_recall@1'] == 1.0  # â(mix) = a(y): appearance perfectly kept
    assert m['pose_recall@1'] < 0.2  # p̂(mix) = p(y) != p(x)
    assert m['paired_L1'] == pytest.approx(m['paired_L1_copy_app'])
    assert m['PCK_mix_truth_ratio'] == pytest.approx(m['PCK_mix'] / m['PCK_truth'])
    assert m['PCK_mix_truth_ratio'] < 0.6
    assert m['PCK_mix_gain'] == 0.0  # no better than copying y


def test_mix_copying_the_pose_image_fails_appearance_retrieval(model, synth_batches,
                                                               monkeypatch):
    metric = _collect(model, synth_batches)
    _with_oracle(metric, monkeypatch)
    monkeypatch.setattr(model, 'mix', lambda img_pose, img_app: img_pose.float())
    m = metric.compute_metrics(metric.results)
    assert m['PCK_mix'] == 1.0 and m['EPE_mix'] < 1e-6  # pose perfectly kept
    assert m['PCK_mix_y'] < 0.6 and m['PCK_copy_app'] < 0.6
    assert m['app_recall@1'] == 0.0  # â(mix) = a(x) is nearest to a(x), never a(y)
    assert m['pose_recall@1'] == 1.0
    assert m['paired_L1'] == pytest.approx(m['paired_L1_copy_pose'])


def test_the_true_render_is_the_ceiling(model, synth_batches, monkeypatch):
    """A mix equal to the true render scores PCK_mix = PCK_truth (ratio 1) and paired L1 0."""
    metric = _collect(model, synth_batches)
    results = metric.results
    partner = (np.arange(len(results)) - metric._pair_shift(results)) % len(results)
    truth = torch.stack([render_truth(results[i], results[j], torch.from_numpy(r['img']))
                         for i, (r, j) in enumerate(zip(results, partner))]).float()
    lookup = {r['img'].tobytes(): k for k, r in enumerate(results)}

    def mix(img_pose, img_app):
        rows = [lookup[t.cpu().to(torch.uint8).numpy().tobytes()] for t in img_pose]
        return truth[rows]

    monkeypatch.setattr(model, 'mix', mix)
    metric.bind_judge(_plain_judge())
    m = metric.compute_metrics(results)
    assert m['PCK_mix'] == m['PCK_truth'] and m['EPE_mix'] == m['EPE_truth']
    assert m['paired_L1'] == 0.0
    assert m['hand_L1'] == 0.0 and m['hand_tone_error'] == 0.0
    assert m['hand_tone_corr'] == pytest.approx(1.0)
    assert m['hand_L1_copy_pose'] > 5 and m['hand_tone_corr_copy_pose'] < 0.9
    assert m['app_recall_truth@1'] == m['app_recall@1']
    # y's own hand's tone: the same skin and light, another pose (shaded otherwise)
    assert 0 < m['hand_tone_error_copy_app'] < m['hand_tone_error_copy_pose']
    if m['PCK_truth'] > 0:
        assert m['PCK_mix_truth_ratio'] == 1.0
    if m['PCK_truth'] > m['PCK_copy_app']:
        assert m['PCK_mix_gain'] == 1.0


def test_hand_look_is_read_on_xs_hand_pixels_only(model, synth_batches, monkeypatch):
    """The true render brightened by 30 on x's hand: tone error 30, tone still followed;
    brightened everywhere else: no hand key moves."""
    metric = _collect(model, synth_batches)
    results = metric.results
    partner = (np.arange(len(results)) - metric._pair_shift(results)) % len(results)
    truth = torch.stack([render_truth(results[i], results[j], torch.from_numpy(r['img']))
                         for i, (r, j) in enumerate(zip(results, partner))]).float()
    hands = torch.from_numpy(np.stack([render_truth_masks(r, r['img'].shape[-2:])[0]
                                       for r in results]))[:, None].expand_as(truth)
    assert hands.flatten(1).any(1).all()
    lookup = {r['img'].tobytes(): k for k, r in enumerate(results)}
    # 30 grey levels brighter (kept below 255 so that rounding to uint8 loses nothing)
    lifted = torch.where(truth <= 225, truth + 30, truth)

    def mixer(inside: bool):
        def mix(img_pose, img_app):
            rows = [lookup[t.cpu().to(torch.uint8).numpy().tobytes()] for t in img_pose]
            where = hands[rows] if inside else ~hands[rows]
            return torch.where(where, lifted[rows], truth[rows])
        return mix

    monkeypatch.setattr(model, 'mix', mixer(inside=True))
    m = metric.compute_metrics(results)
    # each image's mean lift on its hand pixels (30 where the truth is below 225), averaged
    lift = float((((lifted - truth) * hands).flatten(1).sum(1) /
                  hands.flatten(1).sum(1) / truth.shape[1]).mean())
    assert 25 < lift <= 30
    assert m['hand_tone_error'] == pytest.approx(lift, abs=1e-3)
    assert m['hand_tone_bias'] == pytest.approx(lift, abs=1e-3)  # brighter: positive
    assert 0 < m['hand_core_tone_error'] <= 30 + 1e-3
    assert m['hand_L1'] == pytest.approx(lift, abs=1e-3)
    assert m['hand_tone_corr'] > 0.95
    assert m['paired_L1'] > 0
    monkeypatch.setattr(model, 'mix', mixer(inside=False))
    m = metric.compute_metrics(results)
    assert m['hand_L1'] == 0.0 and m['hand_tone_error'] == 0.0
    assert m['hand_core_tone_error'] == 0.0
    assert m['paired_L1'] > 10


def test_finger_levels_say_where_the_mix_loses_the_pose(model, synth_batches):
    """A mix read with misplaced fingertips only: the tips' ratio is 0, every other place's 1."""
    metric = _collect(model, synth_batches, finger_levels=True)
    results = metric.results
    n = len(results)
    partner = (np.arange(n) - 1) % n
    crops = np.stack([to_crop(r['keypoints'], r['center'], r['scale'], r['input_size'])
                      for r in results])
    mix = crops.copy()
    mix[:, [4, 8, 12, 16, 20]] += 30.0  # the thumb's and each finger's tip, 30 px off
    m = metric._pose_consistency(results, partner, crops, mix, kp_truth=crops, levels=True)
    for level in ('wrist', 'base', 'middle', 'distal'):
        assert m[f'PCK_mix@{level}'] == m[f'PCK_truth@{level}'] == 1.0
        assert m[f'PCK_mix_truth_ratio@{level}'] == 1.0
    assert m['PCK_mix@tip'] == 0.0 and m['PCK_truth@tip'] == 1.0
    assert m['PCK_mix_truth_ratio@tip'] == 0.0
    assert m['PCK_mix'] == pytest.approx(16 / 21)  # the places weighted by their keypoints
    # read against y's keypoints: a mix whose tips are where y's are
    mix[:, [4, 8, 12, 16, 20]] = crops[partner][:, [4, 8, 12, 16, 20]]
    m = metric._pose_consistency(results, partner, crops, mix, kp_truth=crops, levels=True)
    assert m['PCK_mix_y@tip'] == 1.0 and m['PCK_mix_y@tip'] > m['PCK_truth_y@tip']
    assert m['PCK_mix_y@wrist'] == m['PCK_truth_y@wrist']
    assert not any('@' in k for k in metric._pose_consistency(results, partner, crops, mix,
                                                              kp_truth=crops))


def test_finger_levels_through_the_judge(model, synth_batches):
    metric = _collect(model, synth_batches, finger_levels=True)
    metric.bind_judge(_plain_judge())
    m = metric.compute_metrics(metric.results)
    counts = {'wrist': 1, 'base': 5, 'middle': 5, 'distal': 5, 'tip': 5}
    for which in ('mix', 'truth', 'mix_y', 'truth_y'):
        whole = m[f'PCK_{which}'] if which != 'truth_y' else None
        mean = sum(m[f'PCK_{which}@{k}'] * c for k, c in counts.items()) / 21
        assert 0 <= mean <= 1 and (whole is None or mean == pytest.approx(whole))
    assert not any('@' in k and k.startswith('self_') for k in m)
    with pytest.raises(ValueError, match='finger_levels=False'):
        metric.compute_metrics([dict(r, keypoints=r['keypoints'][:17]) for r in metric.results])


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


def test_true_masks_lie_under_the_rendered_hand(model, synth_batches):
    """render_truth_masks: the hand's pixels hold its keypoints and change with the
    appearance; the forearm is apart from the hand."""
    def grown(mask):  # by 2 px
        return torch.nn.functional.max_pool2d(torch.from_numpy(mask).float()[None], 5, 1, 2)[0]

    metric = _collect(model, synth_batches[:1])
    results = metric.results
    for i, r in enumerate(results[:8]):
        img = torch.from_numpy(r['img'])
        hand, arm = render_truth_masks(r, img.shape[-2:])
        assert hand.shape == tuple(img.shape[-2:]) and not (hand & arm).any()
        assert 0.02 < hand.mean() < 0.8
        kp = to_crop(r['keypoints'], r['center'], r['scale'], r['input_size'])
        # each visible keypoint on the hand or its forearm (± 2 px; a hand seen end-on has
        # its wrist and knuckles in front of the forearm), most of them on the hand
        on_hand, on_body = grown(hand), grown(hand | arm)
        at = [(int(v), int(u)) for (u, v), seen in zip(kp, r['visible'])
              if seen and 0 <= u < hand.shape[1] and 0 <= v < hand.shape[0]]
        assert all(on_body[p] > 0 for p in at)
        assert sum(on_hand[p] > 0 for p in at) >= 0.75 * len(at)
        # another appearance of the same pose changes the hand's pixels
        other = results[(i + 2) % len(results)]
        diff = (render_truth(r, other, img).float() - img.float()).abs().amax(0).numpy()
        assert diff[hand].mean() > 0


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
    with pytest.raises(ValueError, match='judge'):
        DisentanglementMetric(judge=dict(config='x.py'))
    with pytest.raises(ValueError, match='self-disentanglement model'):
        metric.bind_judge(model)


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


def test_judge_from_config_and_checkpoint(model, tmp_path):
    from mmselfdis.evaluation.judge import JudgeError
    from tests.test_evaluation.test_figures import BASELINE, _checkpoint
    ckpt = _checkpoint(BASELINE, str(tmp_path / 'baseline.pth'))
    data = batches(onehand_dataset(), batch_size=4)
    metric = _collect(model, data, judge=dict(config=BASELINE, checkpoint=ckpt))
    m = metric.compute_metrics(metric.results)
    referee = metric._judge
    assert type(referee).__name__ == 'TopdownPoseEstimator' and not referee.training
    assert all(not p.requires_grad for p in referee.parameters())
    assert m['judged'] == 1.0
    assert m['EPE_x'] != m['self_EPE_x']  # judged by the referee, not by the model
    own = _collect(model, data, judge=None).compute_metrics(metric.results)
    assert m['self_EPE_x'] == own['self_EPE_x']
    assert m['app_recall@1'] == own['app_recall@1']  # codes still come from the model
    # the former argument name still works
    old = _collect(model, data, pose_estimator=dict(config=BASELINE, checkpoint=ckpt))
    assert old.compute_metrics(old.results)['EPE_x'] == m['EPE_x']
    # a generator config is refused as a judge
    from tests.test_evaluation.test_figures import RES18
    gen = _collect(model, data, judge=dict(config=RES18, checkpoint=ckpt))
    with pytest.raises(JudgeError, match='self-grading'):
        gen.compute_metrics(gen.results)


def _labels_model():
    from tests.test_models._tiny import build_model, model_cfg
    cfg = model_cfg('unet', in_channels=1, selfdis=dict(
        pose_maps_from='labels',
        decoder=dict(type='PoseModulatedDecoder', base_channels=4, hidden_channels=4,
                     pose_encoding='limbs')))
    return build_model(cfg).eval()


def test_a_generator_that_draws_labels_is_given_the_pose_images_keypoints(synth_batches,
                                                                          synth_root):
    """pose_maps_from='labels': the metric and the swap grid mix with x's crop keypoints."""
    from mmselfdis.visualization import load_samples, swap_images
    model = _labels_model()
    calls = []
    mix = model.mix

    def spy(img_pose, img_app, **kw):
        calls.append(kw)
        return mix(img_pose, img_app, **kw)

    model.mix = spy
    metric = _collect(model, synth_batches)
    metric.compute_metrics(metric.results)
    results = metric.results
    got = np.concatenate([c['keypoints'] for c in calls])
    want = np.stack([to_crop(r['keypoints'], r['center'], r['scale'], r['input_size'])
                     for r in results])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_array_equal(np.concatenate([c['keypoints_visible'] for c in calls]),
                                  np.stack([r['visible'] for r in results]))
    # the swap grid: one column per pose source, drawn from that source's keypoints
    dataset = synth_dataset(synth_root, 'train')
    pose_imgs, pose_info = load_samples(dataset, [0, 2])
    app_imgs, _ = load_samples(dataset, [1, 3, 5])
    np.testing.assert_allclose(pose_info[0]['keypoints'], want[0], rtol=1e-5)
    grid = swap_images(model, pose_imgs, app_imgs, pose_info)
    assert grid.shape == (3, 2, 1, 64, 64)
    with torch.no_grad():
        direct = mix(pose_imgs.float(), app_imgs[1:2].float(),
                     keypoints=np.stack([i['keypoints'] for i in pose_info]),
                     keypoints_visible=np.stack([i['keypoints_visible'] for i in pose_info]))
    torch.testing.assert_close(grid[1], direct.clamp(0, 255).round(), atol=1, rtol=0)
    with pytest.raises(ValueError, match='pass pose_info'):
        swap_images(model, pose_imgs, app_imgs)


def test_sticks_control_is_the_judge_on_y_with_xs_skeleton(model, synth_batches, monkeypatch):
    """PCK_sticks: y with x's bones drawn in black, read by the judge; stick_width=0: no key."""
    metric = _collect(model, synth_batches)
    metric.bind_judge(_plain_judge())
    seen = []
    real = disentanglement_metric.predict_crop_keypoints

    def spy(estimator, imgs, flips=None):
        seen.append(imgs.clone())
        return real(estimator, imgs, flips)

    monkeypatch.setattr(disentanglement_metric, 'predict_crop_keypoints', spy)
    ours = metric.compute_metrics(metric.results)
    assert 0 <= ours['PCK_sticks'] <= 1
    results = metric.results
    n = len(results)
    imgs = torch.from_numpy(np.stack([r['img'] for r in results])).float()
    partner = (np.arange(n) - metric._pair_shift(results)) % n
    kpts = np.stack([to_crop(r['keypoints'], r['center'], r['scale'], r['input_size'])
                     for r in results])
    vis = np.stack([r['visible'] for r in results])
    idx = np.arange(min(n, metric.batch_size))
    want = metric._sticks(imgs[partner[idx]], kpts[idx], vis[idx], metric._skeleton(21))
    assert any(t.shape == want.shape and torch.equal(t, want) for t in seen)  # judged
    y = imgs[partner[0]]
    changed = want[0] != y
    assert changed.any() and (want[0][changed] == 0).all()  # only black lines are added
    u, v = np.round(kpts[0, 0]).astype(int)  # the wrist lies on its bones
    if vis[0, 0] > 0 and 0 <= u < 64 and 0 <= v < 64:
        assert want[0, 0, v, u] == 0
    quiet = _collect(model, synth_batches, stick_width=0)
    quiet.bind_judge(_plain_judge())
    assert 'PCK_sticks' not in quiet.compute_metrics(quiet.results)
    with pytest.raises(ValueError, match='stick_width'):
        DisentanglementMetric(stick_width=-1)


def test_appearance_cropped_where_x_was_cropped(model, synth_batches, monkeypatch):
    """appearance_crop='pose': the mix is given y's image at x's crop; copying it is the
    aligned floor, which the true render beats only where the hands are."""
    metric = _collect(model, synth_batches, appearance_crop='pose')
    results = metric.results
    partner = (np.arange(len(results)) - metric._pair_shift(results)) % len(results)
    given = []

    def mix(img_pose, img_app):
        given.append(img_app.cpu())
        return img_app.float()

    monkeypatch.setattr(model, 'mix', mix)
    metric.bind_judge(_plain_judge())
    m = metric.compute_metrics(results)
    i, j = 3, partner[3]
    expect = render_truth(dict(results[i], pose=results[j]['pose']), results[j],
                          torch.from_numpy(results[i]['img']))
    assert torch.equal(torch.cat(given)[i].to(torch.uint8), expect)
    assert not torch.equal(expect, torch.from_numpy(results[j]['img']))  # not y's own crop
    assert m['paired_L1'] == pytest.approx(m['paired_L1_copy_app_aligned'])
    assert m['paired_SSIM'] == pytest.approx(m['paired_SSIM_copy_app_aligned'])
    assert m['app_recall@1'] == 1.0  # found among the appearance images it was given
    # y's background, where x's crop sees it, is the true render's
    assert m['paired_L1_copy_app_aligned'] < m['paired_L1_copy_app']
    assert m['paired_SSIM_copy_app_aligned'] > m['paired_SSIM_copy_app']
    with pytest.raises(ValueError, match="'own' or 'pose'"):
        DisentanglementMetric(appearance_crop='x')


def test_paired_ceiling_oracles(synth_root, tmp_path):
    """tools/paired_ceiling.py: the oracle that paints the true render into the hole is exact
    there, a vanishing blur is that oracle, and y at x's crop is the metric's floor."""
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        'custom_imports = dict(imports=["mmselfdis"], allow_failed_imports=False)\n'
        'default_scope = "mmpose"\n'
        'codec = dict(type="MSRAHeatmap", input_size=(64, 64), heatmap_size=(16, 16), sigma=2)\n'
        f'test_dataloader = dict(dataset=dict(type="SynthHandDataset", data_root={synth_root!r},\n'
        '    data_mode="topdown", ann_file="annotations/test.json", data_prefix=dict(img=""),\n'
        f'    test_mode=True, pipeline={VAL_PIPELINE!r}))\n')
    from tests.test_augment._fixtures import load_tool
    tool = load_tool('paired_ceiling')
    out = tool.main([str(cfg), '--max-samples', '8'])
    assert out['samples'] == 8 and 0.1 < out['hole_fraction'] < 0.9
    assert 0.5 < out['hole_covers_differences'] <= 1
    assert out['oracle_sharp_L1_in_hole'] < 2  # the truth inside the hole (soft rims aside)
    assert out['oracle_sharp_SSIM'] > out['oracle_smooth_SSIM'] > out['oracle_flat_SSIM']
    # the flat x hand has the truth's mean brightness over x's hand region (up to the soft rim)
    assert abs(out['inpaint_y_oracle_flat_x_signed_mean_error_x_hand']) < 1
    assert abs(out['copy_app_aligned_signed_mean_error_x_hand']) > 2
    # SSIM by region: the truth inside x's hand is exact there
    assert out['oracle_sharp_SSIM_x_hand_core'] > 0.95 > out['copy_app_aligned_SSIM_x_hand_core']
    # the truth's own detail inside x's hand is the truth's; a flat fill has none
    assert out['oracle_sharp_detail_corr_x_hand'] > 0.95
    assert out['inpaint_y_oracle_flat_x_detail_rms_x_hand'] < 0.5 * out['truth_detail_rms_x_hand']
    # black dots at x's keypoints add detail where x's hand goes, nothing elsewhere
    assert out['inpaint_y_dots_x_detail_rms_x_hand'] > out['inpaint_y_detail_rms_x_hand'] + 1
    assert out['inpaint_y_dots_x_L1_y_hand_only'] == pytest.approx(
        out['inpaint_y_L1_y_hand_only'], abs=0.5)
    # the hole covers most of x's rendered hand; a wider one covers more, each place too
    assert 0.5 < out['x_hand_in_hole'] < 1 and 0 <= out['x_forearm_in_hole'] <= 1
    wide = tool.main([str(cfg), '--max-samples', '8', '--radius', '0.2'])
    assert wide['x_hand_in_hole'] > out['x_hand_in_hole'] and wide['x_hand_in_hole'] > 0.99
    for level in ('wrist', 'base', 'middle', 'distal', 'tip'):
        assert wide[f'x_hand_in_hole@{level}'] >= out[f'x_hand_in_hole@{level}']
    sharp = tool.main([str(cfg), '--max-samples', '8', '--sigma', '0.01', '--fill-sigma', '2',
                       '--fill-margin', '0.03'])
    assert sharp['oracle_smooth_L1'] == pytest.approx(sharp['oracle_sharp_L1'], abs=1e-3)
    # the painter's inpainting with a smoothed fill: y itself outside y's hand, less detail in it
    assert sharp['inpaint_y_fill_smoothed_L1_outside_hole'] == pytest.approx(
        sharp['copy_app_aligned_L1_outside_hole'], abs=0.5)
    assert 'inpaint_y_fill_smoothed_SSIM' in sharp and 'inpaint_y_fill_smoothed_SSIM' not in out
    # the grown region: more of y's pixels outside the holes are replaced by the fill
    assert 'inpaint_y_fill_grown_SSIM' in sharp and 'inpaint_y_fill_grown_SSIM' not in out
    assert abs(sharp['inpaint_y_fill_grown_L1_outside_hole'] -
               sharp['inpaint_y_fill_smoothed_L1_outside_hole']) > 0.05
    metric = DisentanglementMetric(paired=True)
    ds = synth_dataset(synth_root, 'test')
    for batch in batches(ds, 8, limit=8):
        metric.process(batch, [s.to_dict() for s in batch['data_samples']])
    res = metric.results
    partner = (np.arange(8) - metric._pair_shift(res)) % 8
    imgs = torch.from_numpy(np.stack([r['img'] for r in res]))
    truth = torch.stack([render_truth(res[i], res[j], imgs[i]) for i, j in enumerate(partner)])
    aligned = torch.stack([render_truth(dict(res[i], pose=res[j]['pose']), res[j], imgs[i])
                           for i, j in enumerate(partner)])
    floors = DisentanglementMetric._paired(partner, imgs, aligned, truth, aligned)
    assert out['copy_app_aligned_L1'] == pytest.approx(floors['paired_L1_copy_app_aligned'])
    assert out['copy_app_aligned_SSIM'] == pytest.approx(floors['paired_SSIM_copy_app_aligned'])
