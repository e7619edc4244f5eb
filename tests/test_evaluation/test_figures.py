"""Swap grid and retrieval figures: the tools, the shared drawing code and SwapGridHook."""
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.visualization import Visualizer

from mmselfdis.engine.hooks import SwapGridHook
from mmselfdis.utils import ConfigError
from mmselfdis.visualization import draw_swap_grid, swap_grid
from tests.conftest import REPO, load_tool, run_tool
from tests.test_evaluation._helpers import (make_synthhands, onehand_dataset, synth_dataset,
                                            tiny_model)

T43 = osp.join(REPO, 'configs', 'selfdis', 't4-3_selfdis_unet_synthhands-mono-64x64.py')
RES18 = osp.join(REPO, 'configs', 'selfdis', 'selfdis_res18_hand-samples_mono-64x64.py')
BASELINE = osp.join(REPO, 'configs', 'baseline', 'td-hm_res18_hand-samples_mono-64x64.py')
EVAL_RES18 = osp.join(REPO, 'configs', 'eval', 'selfdis_res18_hand-samples_mono-64x64_disent.py')


def _checkpoint(config: str, path: str) -> str:
    """A freshly initialised model of ``config`` saved as tools/train.py would (with meta.cfg)."""
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {'cfg': cfg.pretty_text}}, path)
    return path


@pytest.fixture(scope='module')
def synth_root(tmp_path_factory):
    return make_synthhands(str(tmp_path_factory.mktemp('synth') / 'synthhands'), num_poses=40)


@pytest.fixture(scope='module')
def t43_ckpt(tmp_path_factory):
    return _checkpoint(T43, str(tmp_path_factory.mktemp('ckpt') / 't43.pth'))


def _synth_options(root: str):
    return ['--cfg-options'] + [f'{s}_dataloader.dataset.data_root={root}/'
                                for s in ('train', 'val', 'test')]


def _expected_grid_shape(num_pose: int, num_app: int, scale: int, title: bool = True):
    img = np.zeros((64, 64, 3), np.uint8)
    fig = draw_swap_grid(np.stack([img] * num_pose), np.stack([img] * num_app),
                         np.zeros((num_app, num_pose, 64, 64, 3), np.uint8), scale,
                         title='t' if title else None)
    return fig.shape


def test_swap_grid_tool_size_for_given_counts(tmp_path, synth_root, t43_ckpt):
    out = tmp_path / 'grid.png'
    tool = load_tool('swap_grid')
    tool.main([T43, t43_ckpt, '--out', str(out), '--num-pose', '3', '--num-appearance', '2',
               '--scale', '2', *_synth_options(synth_root)])
    img = cv2.imread(str(out))
    assert img.shape == _expected_grid_shape(3, 2, 2)
    # one more pose source adds one column of (64 * scale + gap) pixels
    assert _expected_grid_shape(4, 2, 2)[1] - img.shape[1] == 64 * 2 + 4
    # --truth stacks the true renders under the mixes
    out2 = tmp_path / 'grid_truth.png'
    tool.main([T43, t43_ckpt, '--out', str(out2), '--num-pose', '3', '--num-appearance', '2',
               '--scale', '2', '--split', 'test_shift', '--truth', *_synth_options(synth_root)])
    both = cv2.imread(str(out2))
    assert both.shape[1] == img.shape[1] and both.shape[0] > 2 * img.shape[0]


def test_swap_grid_tool_captions_every_mix_with_the_judge(tmp_path, synth_root, t43_ckpt,
                                                          capsys):
    judge = _checkpoint(BASELINE, str(tmp_path / 'judge.pth'))
    out = tmp_path / 'judged.png'
    tool = load_tool('swap_grid')
    tool.main([T43, t43_ckpt, '--out', str(out), '--num-pose', '3', '--num-appearance', '2',
               '--scale', '2', '--judge', BASELINE, judge, *_synth_options(synth_root)])
    assert 'judge (' in capsys.readouterr().out
    img = np.zeros((64, 64, 3), np.uint8)
    captioned = draw_swap_grid(np.stack([img] * 3), np.stack([img] * 2),
                               np.zeros((2, 3, 64, 64, 3), np.uint8), 2, title='t',
                               cell_labels=[['c'] * 3] * 2)
    assert cv2.imread(str(out)).shape == captioned.shape
    assert captioned.shape[0] > _expected_grid_shape(3, 2, 2)[0]  # a caption row per mix row
    with pytest.raises(ConfigError, match='self-grading'):  # a generator is no judge
        tool.main([T43, t43_ckpt, '--out', str(out), '--judge', T43, t43_ckpt,
                   *_synth_options(synth_root)])


def test_swap_grid_tool_on_real_samples_and_errors(tmp_path, samples_dir):
    ckpt = _checkpoint(RES18, str(tmp_path / 'res18.pth'))
    out = str(tmp_path / 'real.png')
    tool = load_tool('swap_grid')
    tool.main([RES18, ckpt, '--out', out, '--num-pose', '4', '--num-appearance', '4'])
    assert cv2.imread(out).shape == _expected_grid_shape(4, 4, 3)
    plain = _checkpoint(BASELINE, str(tmp_path / 'plain.pth'))
    with pytest.raises(ConfigError, match='SelfDisPoseEstimator'):
        tool.main([BASELINE, plain, '--out', out])
    with pytest.raises(ConfigError, match='test_shift.json'):
        tool.main([RES18, ckpt, '--out', out, '--split', 'test_shift'])


def test_retrieve_tool_size_and_query_range(tmp_path, synth_root, t43_ckpt):
    tool = load_tool('retrieve')

    def shape(k, scale):
        out = tmp_path / f'retrieval_{k}_{scale}.png'
        tool.main([T43, t43_ckpt, '--query', '2', '--k', str(k), '--scale', str(scale),
                   '--out', str(out), *_synth_options(synth_root)])
        return cv2.imread(str(out)).shape

    h, w, c = shape(3, 2)
    assert c == 3
    # one more neighbour: one more 64x64 crop (x2) and its gap of 4 pixels in each row
    assert shape(4, 2) == (h, w + 64 * 2 + 4, 3)
    # scale 1: two rows (pose code, appearance code) of the query and 3 neighbours shrink
    assert shape(3, 1) == (h - 2 * 64, w - 4 * 64, 3)
    # the test split of 4 poses x 2 appearances: indices 0..7; a user error exits with code 2
    proc = run_tool('tools/retrieve.py', T43, t43_ckpt, '--query', 99, '--out',
                    tmp_path / 'retrieval.png', *_synth_options(synth_root), check=False)
    assert proc.returncode == 2, proc.stderr
    assert 'error: --query 99 is out of range' in proc.stderr and '0..7' in proc.stderr


def test_swap_grid_function_shows_sources_unchanged():
    model = tiny_model('unet')
    ds = onehand_dataset()
    imgs = torch.stack([ds[i]['inputs'] for i in range(4)])
    fig = swap_grid(model, imgs[:2], imgs[2:], scale=1, title=None)
    assert fig.shape == _expected_grid_shape(2, 2, 1, title=False) and fig.dtype == np.uint8
    # the first pose source sits right of the label column and the appearance column
    label_w, gap, sep = 96, 4, 10
    x0 = label_w + 64 + sep
    shown = fig[gap:gap + 64, x0:x0 + 64, 0]
    assert np.array_equal(shown, imgs[0, 0].numpy())


def _runner(tmp_path, model, dataset, max_iters: int):
    vis = Visualizer(name=f'swap_{tmp_path.name}', vis_backends=[dict(type='LocalVisBackend')],
                     save_dir=str(tmp_path / 'vis'))
    return SimpleNamespace(model=model, val_dataloader=SimpleNamespace(dataset=dataset),
                           train_dataloader=None, visualizer=vis, iter=0,
                           max_iters=max_iters)


def test_hook_adds_the_grid_every_n_iterations(tmp_path, synth_root):
    model = tiny_model('unet').train()
    runner = _runner(tmp_path, model, synth_dataset(synth_root, 'val'), max_iters=7)
    hook = SwapGridHook(interval=3, num_pose=3, num_appearance=2, scale=1)
    hook.before_train(runner)
    first = hook._pose_imgs.clone()
    for it in range(7):
        runner.iter = it
        hook.after_train_iter(runner, it)
    saved = sorted(p.name for p in (tmp_path / 'vis' / 'vis_data' / 'vis_image').iterdir())
    assert saved == ['swap_grid_3.png', 'swap_grid_6.png', 'swap_grid_7.png']
    assert torch.equal(hook._pose_imgs, first)  # the sources are fixed once
    assert model.training  # the model's mode is restored after drawing
    img = cv2.imread(str(tmp_path / 'vis' / 'vis_data' / 'vis_image' / 'swap_grid_3.png'))
    assert img.shape == _expected_grid_shape(3, 2, 1)
    with pytest.raises(ValueError, match='SelfDisPoseEstimator'):
        hook.before_train(_runner(tmp_path / 'x', torch.nn.Conv2d(1, 1, 1), None, 1))


def test_test_tool_prints_the_disentanglement_numbers(tmp_path, samples_dir):
    ckpt = _checkpoint(RES18, str(tmp_path / 'res18.pth'))
    proc = run_tool('tools/test.py', EVAL_RES18, ckpt, '--work-dir', tmp_path / 'work')
    text = proc.stdout + proc.stderr
    for key in ('disent/self_PCK_mix', 'disent/app_recall@1', 'disent/leak_app_ratio', 'PCK:'):
        assert key in text, text[-3000:]
    # no judge cached next to the samples: said loudly, and no unlabelled PCK_mix
    assert 'NO JUDGE' in text and 'disent/judged: 0.0' in text and 'disent/PCK_mix:' not in text


def test_recon_strip_rows_and_columns(tmp_path, synth_root, t43_ckpt):
    """tools/recon_strip.py: images, reconstructions, mixes (+ limb maps for a limb decoder)."""
    demo = osp.join(REPO, 'configs', 'demo', 'selfdis-demo_unet_synthhands-mono-64x64.py')
    demo_ckpt = _checkpoint(demo, str(tmp_path / 'demo.pth'))
    tool = load_tool('recon_strip')
    for config, ckpt, rows in ((T43, t43_ckpt, 3), (demo, demo_ckpt, 4)):
        out = tmp_path / f'strip_{rows}.png'
        tool.main([config, ckpt, '--out', str(out), '--indices', '0', '1', '2', '--scale', '1',
                   *_synth_options(synth_root)])
        fig = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        assert fig.shape[:2] == (rows * 64, 3 * 64)
        first = synth_dataset(synth_root, 'test')[0]['inputs'][0].numpy()
        np.testing.assert_array_equal(fig[:64, :64, 0], first)  # row 1: the images
    with pytest.raises(ConfigError, match='at least 2'):
        tool.parse_args([T43, t43_ckpt, '--out', 'x.png', '--indices', '0'])


def test_split_datasets_include_the_unseen_combinations(tmp_path, synth_root):
    """--split test_combo reads annotations/test_combo.json of the test loader's data root."""
    import shutil

    from mmselfdis.visualization import build_split_dataset
    cfg = Config.fromfile(T43)
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': f'{synth_root}/'})
    with pytest.raises(ValueError, match='--split test_combo needs .*--correlation'):
        build_split_dataset(cfg, 'test_combo')
    root = tmp_path / 'combo'
    shutil.copytree(synth_root, root)
    shutil.copy(root / 'annotations' / 'test.json', root / 'annotations' / 'test_combo.json')
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': f'{root}/'})
    ds = build_split_dataset(cfg, 'test_combo')
    assert ds.ann_file.endswith('annotations/test_combo.json') and len(ds) > 0
