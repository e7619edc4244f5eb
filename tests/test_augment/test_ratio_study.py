"""tools/ratio_study.py: bookkeeping (on fabricated metrics files) and a real micro run."""
import json
import os
import os.path as osp

import pytest

from tests.conftest import refused, run_tool
from ._fixtures import STUDY_CFG, load_tool


def _fabricated_metrics(work_dir, name, kind, ratio, jitter, epe, val_epe, seed=None,
                        aug=None, environment=None):
    """Write a FABRICATED arms/<name>[@seed<S>]/metrics.json (bookkeeping tests only)."""
    d = osp.join(work_dir, 'arms', name if seed is None else f'{name}@seed{seed}')
    os.makedirs(d, exist_ok=True)
    splits = {'val': dict(EPE=val_epe, PCK=0.5, AUC=0.4),
              'test': dict(EPE=epe, PCK=0.6, AUC=0.5),
              'test_shift': dict(EPE=epe * 1.5, PCK=0.4, AUC=0.3)}
    m = dict(arm=name, kind=kind, ratio=ratio, jitter=jitter, splits=splits,
             train_seconds=1.0, data_time_share=0.01)
    if seed is not None:
        m['seed'] = seed
    if aug is not None:
        m['aug'] = aug
    if environment is not None:
        m['environment'] = environment
    with open(osp.join(d, 'metrics.json'), 'w') as f:
        json.dump(m, f)


def test_tables_and_plot_from_fabricated_metrics(tmp_path):
    study = load_tool('ratio_study')
    w = str(tmp_path)
    _fabricated_metrics(w, 'r=0', 'ratio', 0.0, False, 10.0, 10.0)
    _fabricated_metrics(w, 'r=0.25', 'ratio', 0.25, False, 9.0, 8.0)
    _fabricated_metrics(w, 'r=0.5', 'ratio', 0.5, False, 8.0, 9.0)
    _fabricated_metrics(w, 'jitter', 'conventional', 0.0, True, 9.5, 9.5)
    _fabricated_metrics(w, 'recon_r=0.25', 'reconstruction', 0.25, False, 9.9, 1.0)
    metrics = study.read_arm_metrics(w)
    # lowest val EPE of the mixing arms, not test, and not the reconstruction control's
    assert study.pick_combined_ratio(metrics, 'best') == 0.25
    assert study.pick_combined_ratio(metrics, 'middle') == 0.5
    assert study.pick_combined_ratio(metrics, '0.1') == 0.1
    _fabricated_metrics(w, 'jitter+r=0.25', 'combined', 0.25, True, 7.0, 7.0)
    study.write_reports(w, ['test', 'test_shift'], 'python tools/ratio_study.py X')
    rows = open(osp.join(w, 'results.csv')).read().splitlines()
    assert len(rows) == 1 + 6 * 3
    assert 'r=0.5,ratio,0.5,0,test_shift,12.0,0.4,0.3,-20.0' in rows[1 + 2 * 3 + 2]
    assert rows[1 + 3 * 3].startswith('recon_r=0.25,reconstruction,0.25,0,')  # after the ratios
    md = open(osp.join(w, 'results.md')).read()
    assert '| recon_r=0.25 | 0.25 | - | 1 | 9.900 |' in md
    assert '| r=0.5 | 0.5 | - | 1 | 8.000 | 0.600 | 12.000 | 0.400 | -20.0 % | -20.0 % |' in md
    assert '| jitter+r=0.25 | 0.25 | jitter | 1 |' in md
    assert open(osp.join(w, 'results.png'), 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    assert not [f for f in os.listdir(w) if '.tmp-' in f]


def test_several_seeds_give_means_and_differences_paired_by_seed(tmp_path):
    study = load_tool('ratio_study')
    w = str(tmp_path)
    for seed, base, mix, amp in ((0, 10.0, 9.0, 10.5), (1, 20.0, 19.0, 19.0)):
        _fabricated_metrics(w, 'r=0', 'ratio', 0.0, False, base, base, seed)
        _fabricated_metrics(w, 'r=0.5', 'ratio', 0.5, False, mix, mix, seed)
        _fabricated_metrics(w, 'amplitude', 'conventional', 0.0, False, amp, amp, seed,
                            aug='amplitude')
    study.write_reports(w, ['test'], 'python tools/ratio_study.py X')
    md = open(osp.join(w, 'results.md')).read()
    # r=0.5: EPE 9 and 19 (mean 14, sd 7.071); paired changes -10 % and -5 %: -7.5 +- 3.5 %,
    # lower in both seeds (unpaired means would say 14 vs 15: -6.7 %)
    assert ('| r=0.5 | 0.5 | - | 2 | 14.000 ± 7.071 | 0.600 ± 0.000 | '
            '-7.5 ± 3.5 % (2/2 lower) |') in md
    # amplitude: +5 % and -5 %: lower in one seed of two
    assert '| amplitude | 0 | amplitude | 2 | 14.750 ± 6.010 | 0.600 ± 0.000 | ' \
        '+0.0 ± 7.1 % (1/2 lower) |' in md
    rows = open(osp.join(w, 'results.csv')).read().splitlines()
    assert 'r=0.5,ratio,0.5,0,test,19.0,0.6,0.5,-5.0,1.0,0.01,1,' in rows
    assert 'amplitude,conventional,0.0,0,test,10.5,0.6,0.5,5.0,1.0,0.01,0,amplitude' in rows


def test_best_conventional_arm_is_picked_on_val(tmp_path):
    study = load_tool('ratio_study')
    w = str(tmp_path)
    with pytest.raises(study.StudyError, match='needs finished conventional arms'):
        study.pick_best_conventional(study.read_arm_metrics(w))
    for seed, (jit, amp) in enumerate([(9.0, 9.5), (9.0, 8.0)]):
        # amplitude: lower val EPE on average (8.75 vs 9.0), though not in seed 0; test EPE
        # says the opposite and must not count
        _fabricated_metrics(w, 'jitter', 'conventional', 0.0, True, 5.0, jit, seed)
        _fabricated_metrics(w, 'amplitude', 'conventional', 0.0, False, 20.0, amp, seed,
                            aug='amplitude')
    assert study.pick_best_conventional(study.read_arm_metrics(w)) == 'amplitude'


def test_conventional_judged_and_scheduled_arm_configs(tmp_path):
    from mmengine.config import Config
    study = load_tool('ratio_study')
    arms = study.arm_list([0, 0.5], ['jitter', 'amplitude', 'mixstyle'], True,
                          judged=[0.5], combined_with='amplitude')
    assert [a['name'] for a in arms] == ['r=0', 'r=0.5', 'judged_r=0.5', 'jitter', 'amplitude',
                                         'mixstyle', 'amplitude+r']
    base = Config.fromfile(STUDY_CFG)

    def pipeline(cfg):
        return [t['type'] for t in cfg.train_dataloader.dataset.pipeline]

    amp = study.make_arm_config(base, arms[4], None)
    assert pipeline(amp)[4] == 'AmplitudeMix' and pipeline(amp)[3] == 'TopdownAffine'
    ms = study.make_arm_config(base, arms[5], None)
    assert ms.model.backbone.type == 'MixStyleBackbone'
    assert ms.model.backbone.backbone == base.model.backbone
    assert 'AmplitudeMix' not in pipeline(ms) and 'MixRatioHook' not in str(ms.get('custom_hooks'))
    judge = dict(config='/j/config.py', checkpoint='/j/epoch_2.pth')
    judged = study.make_arm_config(base, arms[2], '/gen.pth', judge=judge, judge_min_pck=0.4,
                                   schedule=(1, 1), judge_mode='mask')
    mix = next(t for t in judged.train_dataloader.dataset.pipeline
               if t['type'] == 'MixReconstruct')
    assert mix['judge'] == judge and mix['judge_min_pck'] == 0.4 and mix['prob'] == 0.5
    assert mix['judge_mode'] == 'mask'
    pack = judged.train_dataloader.dataset.pipeline[-1]
    assert pack['type'] == 'PackPoseInputs' and 'mix_dropped' in pack['meta_keys']
    assert dict(type='MixRatioHook', start=1, real_only_last=1) in judged.custom_hooks
    with pytest.raises(study.StudyError, match='needs a judge'):
        study.make_arm_config(base, arms[2], '/gen.pth')


def test_consistency_turns_the_mixing_arms_into_mix_consistency_estimators():
    from mmengine.config import Config
    study = load_tool('ratio_study')
    arms = study.arm_list([0, 0.5], False, False, reconstruction=0.25)
    base = Config.fromfile(STUDY_CFG)
    r0, r5, recon = (study.make_arm_config(base, a, '/gen.pth', consistency=0.5) for a in arms)
    assert r5.model.type == 'MixConsistencyEstimator'
    assert r5.model.consistency == dict(loss_weight=0.5, teacher='self')
    ema = study.make_arm_config(base, arms[1], '/gen.pth', consistency=1.0, teacher='ema')
    assert ema.model.consistency == dict(loss_weight=1.0, teacher='ema')
    fast = study.make_arm_config(base, arms[1], '/gen.pth', consistency=1.0, teacher='ema',
                                 momentum=0.02)
    assert fast.model.consistency == dict(loss_weight=1.0, teacher='ema', momentum=0.02)
    with pytest.raises(study.StudyError, match='--consistency-momentum'):
        study.parse_args([STUDY_CFG, '--work-dir', 'w', '--consistency', '1',
                          '--consistency-momentum', '0.02'])  # the self teacher has none
    pack = r5.train_dataloader.dataset.pipeline[-1]
    assert 'mix_pose_image' in pack['meta_keys']  # the teacher's x reaches the model
    # no mixes, or no other appearance: the plain estimator
    assert r0.model.type == recon.model.type == 'TopdownPoseEstimator'
    assert 'consistency' not in r0.model
    with pytest.raises(study.StudyError, match='--consistency'):
        study.parse_args([STUDY_CFG, '--work-dir', 'w', '--consistency', '0'])


def test_test_combo_is_evaluated_when_the_data_has_it(tmp_path):
    from mmengine.config import Config
    study = load_tool('ratio_study')
    cfg = Config.fromfile(STUDY_CFG)
    root = tmp_path / 'data'
    (root / 'annotations').mkdir(parents=True)
    for split in ('test_shift', 'test_combo'):
        (root / 'annotations' / f'{split}.json').write_text('{}')
    study.set_data_root(cfg, str(root))
    assert set(study.test_splits(cfg)) == {'val', 'test', 'test_shift', 'test_combo'}


def test_reconstruction_arm_config(tmp_path):
    """--reconstruction-ratio adds one arm: MixReconstruct with appearance_policy='self'."""
    from mmengine.config import Config
    study = load_tool('ratio_study')
    arms = study.arm_list([0, 0.5], True, False, reconstruction=0.25)
    assert [a['name'] for a in arms] == ['r=0', 'r=0.5', 'recon_r=0.25', 'jitter']
    cfg = study.make_arm_config(Config.fromfile(STUDY_CFG), arms[2], '/gen.pth')
    steps = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'MixReconstruct']
    assert len(steps) == 1 and steps[0]['appearance_policy'] == 'self'
    assert steps[0]['prob'] == 0.25
    mix = study.make_arm_config(Config.fromfile(STUDY_CFG), arms[1], '/gen.pth')
    step = next(t for t in mix.train_dataloader.dataset.pipeline if t['type'] == 'MixReconstruct')
    assert 'appearance_policy' not in step  # the default: another pose's appearance


def test_progress_tables_are_marked_incomplete_and_replaced_at_the_end(tmp_path):
    study = load_tool('ratio_study')
    w = str(tmp_path)
    _fabricated_metrics(w, 'r=0', 'ratio', 0.0, False, 10.0, 10.0)
    study.write_reports(w, ['test', 'test_shift'], 'python tools/ratio_study.py X',
                        progress=(1, 3))
    assert sorted(os.listdir(w)) == ['arms', 'results.partial.csv', 'results.partial.md']
    md = open(osp.join(w, 'results.partial.md')).read()
    assert md.startswith('# Augmentation ratio study (incomplete: 1 of 3 arms)\n')
    assert '| r=0 | 0 | - |' in md
    _fabricated_metrics(w, 'r=0.5', 'ratio', 0.5, False, 8.0, 9.0)
    study.write_reports(w, ['test', 'test_shift'], 'python tools/ratio_study.py X')
    assert sorted(os.listdir(w)) == ['arms', 'results.csv', 'results.md', 'results.png']
    assert 'incomplete' not in open(osp.join(w, 'results.md')).read()


def test_refuses_a_work_dir_of_another_config(tmp_path):
    study = load_tool('ratio_study')
    manifest = dict(config='/a.py', config_sha='1', preset='micro', seed=0, generator='trained')
    study.check_manifest(str(tmp_path), manifest)
    study.check_manifest(str(tmp_path), dict(manifest))  # same study: fine
    with pytest.raises(study.StudyError, match="config='/a.py'.*another --work-dir"):
        study.check_manifest(str(tmp_path), dict(manifest, config='/b.py'))
    proc = run_tool('tools/ratio_study.py', STUDY_CFG, '--work-dir', tmp_path, '--preset',
                    'micro', check=False)
    assert proc.returncode == 2 and 'another --work-dir' in proc.stderr


def test_tables_warn_when_a_seeds_arms_were_trained_in_different_environments(tmp_path):
    """The same seed gives another model under other kernels (docs/results.md): a study whose
    arms of one seed ran in two environments says so under its table."""
    study = load_tool('ratio_study')
    w = str(tmp_path)
    avx2 = dict(cpu='CPU A', cpu_capability='AVX2', threads=1)
    _fabricated_metrics(w, 'r=0', 'ratio', 0.0, False, 10.0, 10.0, environment=avx2)
    _fabricated_metrics(w, 'r=0.5', 'ratio', 0.5, False, 9.0, 9.0, environment=avx2)
    study.write_reports(w, ['test'], 'CMD')
    md = open(osp.join(w, 'results.md')).read()
    assert 'Environment of every training: CPU A (AVX2), 1 thread(s)' in md
    assert 'Warning' not in md
    _fabricated_metrics(w, 'r=0.5', 'ratio', 0.5, False, 9.0, 9.0,
                        environment=dict(avx2, cpu_capability='AVX512'))
    study.write_reports(w, ['test'], 'CMD')
    md = open(osp.join(w, 'results.md')).read()
    assert 'seed(s) 0 were trained in different environments' in md
    assert 'r=0: cpu_capability=AVX2; r=0.5: cpu_capability=AVX512' in md


def test_bad_ratio_is_refused(tmp_path, capsys):
    """Each bad option ends with exit code 2 and names the fix, before anything is written."""
    cases = [
        (['--ratios', '1.5'], '--ratios must lie in [0, 1]'),
        (['--epochs', '0'], '--epochs must be >= 1'),
        (['--generator-epochs', '0'], '--generator-epochs must be >= 1'),
        (['--reconstruction-ratio', '0'], '--reconstruction-ratio must lie in (0, 1]'),
        (['--ratios', '0.5', '--judged-ratios', '0.5'], '--judged-ratios needs r=0 in --ratios'),
        (['--truth-ratios', '0'], '--truth-ratios must lie in (0, 1]'),
        (['--preset', 'cpu-small', '--pose-family', 'side'],
         '--pose-family sets up the correlated set'),
        (['--preset', 'cpu-small', '--hard-group'], '--hard-group sets up the correlated set'),
        (['--correlation', '1.0'], 'render the data of a preset'),
        (['--appearances', '1'], 'render the data of a preset'),
        (['--preset', 'cpu-low', '--appearances', '0'], '--appearances must be >= 1'),
        (['--select-on-val', '0'], '--select-on-val must be >= 1'),
        (['--preset', 'micro', '--select-on-val', '2'], 'validate every 1 to 1 epochs'),
    ]
    for args, message in cases:
        err = refused('ratio_study', [STUDY_CFG, '--work-dir', tmp_path, *args], capsys)
        assert message in err, (args, err)
    assert not os.listdir(tmp_path)  # refused before anything was written


def test_micro_study_is_resumable(tmp_path, tiny_generator):
    """A REAL micro run (one arm with MixReconstruct, 1 epoch), then two resumptions; its
    trainings run in the study's process (``--in-process``; the kill test runs them in
    subprocesses)."""
    w = tmp_path / 'study'
    args = ['tools/ratio_study.py', STUDY_CFG, '--preset', 'micro', '--work-dir', w,
            '--ratios', '0.5', '--no-conventional', '--no-combined', '--generator',
            tiny_generator, '--in-process']
    first = run_tool(*args)
    assert 'r=0.5: training and evaluating' in first.stdout
    arm = w / 'arms' / 'r=0.5'
    metrics = json.loads((arm / 'metrics.json').read_text())
    # val is evaluated only to pick the combined arm's r (no combined arm here)
    assert set(metrics['splits']) == {'test', 'test_shift'}
    # MixRatioHook counted the mixes in the training log (about half of the samples)
    counts = metrics['mix_counts']
    assert counts['dropped'] == 0 and 0 < counts['mixed'] < counts['samples']
    assert (arm / 'work' / 'epoch_1.pth').is_file()
    cfg_text = (arm / 'config.py').read_text()
    assert "type='MixReconstruct'" in cfg_text and 'prob=0.5' in cfg_text
    rows = (w / 'results.csv').read_text().splitlines()
    assert [r.split(',')[4] for r in rows[1:]] == ['test', 'test_shift']
    train_log = (arm / 'train.log').read_text()

    second = run_tool(*args)
    assert 'r=0.5: finished earlier, not retrained' in second.stdout
    assert (arm / 'train.log').read_text() == train_log

    # metrics lost, checkpoint kept: the arm is evaluated again, not retrained
    (arm / 'metrics.json').unlink()
    (arm / 'metrics_test_shift.json').unlink()
    third = run_tool(*args)
    assert 'r=0.5: training and evaluating' in third.stdout
    # the first run's final tables would pass for this incomplete study: removed, then rewritten
    assert 'results.csv' in third.stdout and 'of an earlier run (arms are missing' in third.stdout
    assert (arm / 'train.log').read_text() == train_log
    again = json.loads((arm / 'metrics.json').read_text())
    assert again['splits'] == metrics['splits']


def test_micro_study_trains_an_oracle_arm_without_a_generator(tmp_path):
    """A REAL micro run of the oracle arm: TruthMix re-renders about half of the samples."""
    w = tmp_path / 'study'
    out = run_tool('tools/ratio_study.py', STUDY_CFG, '--preset', 'micro', '--work-dir', w,
                   '--ratios', '0', '--truth-ratios', '0.5', '--no-conventional',
                   '--no-combined', '--in-process')
    assert 'training the generator' not in out.stdout
    metrics = json.loads((w / 'arms' / 'truth_r=0.5' / 'metrics.json').read_text())
    assert metrics['kind'] == 'truth' and set(metrics['splits']) == {'test', 'test_shift'}
    counts = metrics['mix_counts']
    assert counts['dropped'] == 0 and 0 < counts['mixed'] < counts['samples']
    assert "type='TruthMix'" in (w / 'arms' / 'truth_r=0.5' / 'config.py').read_text()
    table = (w / 'results.md').read_text()
    assert '| truth_r=0.5 | 0.5 |' in table


def test_micro_study_selects_each_arm_on_val(tmp_path):
    """A REAL micro run with --select-on-val: the arm is read at the epoch with its lowest
    logged val EPE, and at its last epoch in splits_last / results_last.md.

    The learning rate jumps 10^4-fold after epoch 2, so the last epoch's val error rises
    and the best checkpoint is another model than the last one."""
    import re
    cfg = tmp_path / 'lr_jump.py'
    cfg.write_text(f'_base_ = [{STUDY_CFG!r}]\n'
                   'param_scheduler = [dict(type="MultiStepLR", by_epoch=True, '
                   'milestones=[2], gamma=1e4)]\n')
    w = tmp_path / 'study'
    run_tool('tools/ratio_study.py', cfg, '--preset', 'micro', '--work-dir', w,
             '--ratios', '0', '--no-conventional', '--no-combined', '--in-process',
             '--epochs', '3', '--select-on-val', '1')
    arm = w / 'arms' / 'r=0'
    m = json.loads((arm / 'metrics.json').read_text())
    logged = [float(v) for v in re.findall(r'Epoch\(val\) \[\d+\]\[\d+/\d+\].*?EPE: ([\d.]+)',
                                           (arm / 'train.log').read_text())]
    assert len(logged) == 3  # validated every epoch
    assert [e for e, _ in m['val_curve']] == [1, 2, 3]
    assert [v for _, v in m['val_curve']] == pytest.approx(logged, abs=1e-4)
    assert m['best_epoch'] == 1 + logged.index(min(logged))
    assert m['best_epoch'] < 3 and logged[-1] > min(logged)  # the jump made the last worse
    # the picked checkpoint, evaluated again by tools/test.py, gives the logged minimum
    assert m['splits']['val']['EPE'] == pytest.approx(min(logged), abs=1e-4)
    assert m['splits_last']['val']['EPE'] == pytest.approx(logged[-1], abs=1e-4)
    assert m['checkpoint'].endswith(f'best_EPE_epoch_{m["best_epoch"]}.pth')
    assert m['checkpoint_last'].endswith('epoch_3.pth')
    assert set(m['splits']) == set(m['splits_last']) == {'val', 'test', 'test_shift'}
    for split in ('test', 'test_shift'):  # two models: every split read from each
        assert m['splits'][split]['EPE'] != m['splits_last'][split]['EPE']
    assert 'lowest val EPE (--select-on-val' in (w / 'results.md').read_text()
    assert 'each read at its last epoch' in (w / 'results_last.md').read_text()
    assert (w / 'val_curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_last_epoch_tables_only_when_every_arm_was_selected_on_val(tmp_path):
    study = load_tool('ratio_study')
    w = str(tmp_path)
    _fabricated_metrics(w, 'r=0', 'ratio', 0.0, False, 10.0, 10.0)
    _fabricated_metrics(w, 'r=0.5', 'ratio', 0.5, False, 8.0, 8.0)
    metrics = study.read_arm_metrics(w)
    assert study.last_epoch_reading(metrics) is None
    assert study.reading_note(metrics).startswith('Last-epoch checkpoints')
    for name, epe in (('r=0', 12.0), ('r=0.5', 9.0)):
        path = osp.join(w, 'arms', name, 'metrics.json')
        m = json.load(open(path))
        last = {k: dict(v, EPE=v['EPE'] + 1) for k, v in m['splits'].items()}
        m.update(best_epoch=4, splits_last=dict(last, test=dict(EPE=epe, PCK=0.5, AUC=0.4)))
        json.dump(m, open(path, 'w'))
    study.write_reports(w, ['test'], 'python tools/ratio_study.py X')
    # results.md reads the best epochs (-20 %), results_last.md the last ones (-25 %)
    assert '| r=0.5 | 0.5 | - | 1 | 8.000 |' in open(osp.join(w, 'results.md')).read()
    last_md = open(osp.join(w, 'results_last.md')).read()
    assert '| r=0.5 | 0.5 | - | 1 | 9.000 |' in last_md and '-25.0 %' in last_md
    # an arm read at its last epoch beside arms read at their best: said, no last table
    m = json.load(open(osp.join(w, 'arms', 'r=0', 'metrics.json')))
    del m['best_epoch'], m['splits_last']
    json.dump(m, open(osp.join(w, 'arms', 'r=0', 'metrics.json'), 'w'))
    metrics = study.read_arm_metrics(w)
    assert study.last_epoch_reading(metrics) is None
    assert 'Mixed readings' in study.reading_note(metrics)


def test_cpu_combo_preset_fills_the_studys_arms_and_generator():
    """--preset cpu-combo: the correlated data, 8-epoch arms, the background painter and the
    issue's arms when the command line names none; what the command line names wins."""
    study = load_tool('ratio_study')
    args = study.parse_args([STUDY_CFG, '--work-dir', 'w', '--preset', 'cpu-combo'])
    assert args.ratios == [0.0, 0.25, 0.5]
    assert args.conventional == ['jitter', 'amplitude', 'mixstyle']
    assert args.combined_with == 'best' and args.truth_ratios == [0.25]
    assert study.parse_args([STUDY_CFG, '--work-dir', 'w', '--preset', 'cpu-combo',
                             '--no-truth']).truth_ratios == []
    assert args.generator_config.endswith(
        'configs/demo/selfdis-demo-background_unet_synthhands-mono-64x64.py')
    preset = study.PRESETS['cpu-combo']
    assert preset['data']['correlation'] == 1.0 and preset['data']['combo_poses'] == 'test'
    assert preset['pose']['train_cfg.max_epochs'] == 8
    assert preset['generator']['train_cfg.max_epochs'] == 12
    # the painter keeps the demo's cycle-pose weight (the background demo turns it off)
    assert preset['generator']['model.selfdis.loss_cycle_pose.loss_weight'] == 10.0
    args = study.parse_args([STUDY_CFG, '--work-dir', 'w', '--preset', 'cpu-combo', '--ratios',
                             '0', '0.75', '--conventional', 'jitter', '--combined-with',
                             'amplitude', '--generator-config', 'g.py'])
    assert (args.ratios, args.conventional, args.combined_with, args.generator_config) == \
        ([0.0, 0.75], ['jitter'], 'amplitude', 'g.py')
    # cpu-low: the same study on 200 training poses, 48-epoch arms, a 72-epoch painter
    low = study.PRESETS['cpu-low']
    assert low['data'] == dict(preset['data'], train_poses=200)
    assert low['pose'] == dict(preset['pose'], **{'train_cfg.max_epochs': 48})
    assert low['generator'] == dict(preset['generator'], **{'train_cfg.max_epochs': 72})
    assert low['generator_config'] == preset['generator_config']
    args = study.parse_args([STUDY_CFG, '--work-dir', 'w', '--preset', 'cpu-low'])
    assert args.ratios == [0.0, 0.25, 0.5] and args.truth_ratios == [0.5]
    assert args.combined_with == 'best' and args.generator_config == preset['generator_config']
    # cpu-scarce: cpu-low with one appearance per pose, the iterations kept (twice the epochs)
    scarce = study.PRESETS['cpu-scarce']
    assert scarce['data'] == dict(low['data'], appearances=1)
    assert scarce['pose'] == dict(low['pose'], **{'train_cfg.max_epochs': 96})
    assert scarce['generator'] == dict(low['generator'], **{'train_cfg.max_epochs': 144})
    assert scarce['generator_config'] == low['generator_config']
    assert scarce['arms'] == low['arms']
    args = study.parse_args([STUDY_CFG, '--work-dir', 'w'])  # the other presets as before
    assert args.ratios == [0.0, 0.1, 0.25, 0.5, 0.75] and args.conventional == ['jitter']
    assert args.combined_with == 'jitter' and 't4-3_selfdis' in args.generator_config
    assert args.truth_ratios == []


def test_generator_epochs_reach_the_generator_it_trains(tmp_path, monkeypatch):
    """--generator-epochs N: the generator trained in WORK_DIR/generator gets N epochs (the pose
    arms keep theirs) and the manifest records it."""
    study = load_tool('ratio_study')
    seen = {}

    class Stop(Exception):
        pass

    def fake_generator(work_dir, gen_config, preset, data_root, seed):
        seen.update(preset)
        raise Stop

    monkeypatch.setattr(study, 'ensure_generator', fake_generator)
    with pytest.raises(Stop):
        study.main([STUDY_CFG, '--work-dir', str(tmp_path), '--preset', 'micro', '--ratios',
                    '0.5', '--no-conventional', '--no-combined', '--generator-epochs', '7'])
    assert seen['generator']['train_cfg.max_epochs'] == 7
    assert seen['pose']['train_cfg.max_epochs'] == 1
    with open(tmp_path / 'study.json') as f:
        assert json.load(f)['generator_epochs'] == 7


def test_appearances_reach_the_rendered_set_and_the_manifest(tmp_path, monkeypatch):
    """--appearances K: the preset's set is rendered with K appearances per pose (the rest of
    its data as the preset has it) and the manifest records the changed data."""
    study = load_tool('ratio_study')
    seen = {}

    class Stop(Exception):
        pass

    def fake_data(work_dir, spec):
        seen.update(spec)
        raise Stop

    monkeypatch.setattr(study, 'ensure_data', fake_data)
    with pytest.raises(Stop):
        study.main([STUDY_CFG, '--work-dir', str(tmp_path), '--preset', 'cpu-low',
                    '--appearances', '1', '--ratios', '0', '--no-conventional',
                    '--no-combined', '--no-truth'])
    assert seen == dict(study.PRESETS['cpu-low']['data'], appearances=1)
    with open(tmp_path / 'study.json') as f:
        assert json.load(f)['data'] == seen


def _study_dir(root, seed, arms, **manifest):
    """A FABRICATED one-seed study (bookkeeping tests only): study.json and arms."""
    d = osp.join(str(root), f's{seed}')
    os.makedirs(d)
    with open(osp.join(d, 'study.json'), 'w') as f:
        json.dump(dict(dict(config_sha='1', preset='cpu-combo', seed=seed, epochs=None),
                       **manifest), f)
    for name, kind, ratio, aug, epe in arms:
        _fabricated_metrics(d, name, kind, ratio, aug == 'jitter', epe, epe, aug=aug)
        path = osp.join(d, 'arms', name, 'metrics.json')
        m = json.load(open(path))
        m['seed'] = seed
        json.dump(m, open(path, 'w'))
    return d


def test_join_studies_pairs_seeds_across_work_dirs(tmp_path):
    join = load_tool('join_studies')
    s0 = _study_dir(tmp_path, 0, [('r=0', 'ratio', 0.0, None, 10.0),
                                  ('r=0.25', 'ratio', 0.25, None, 9.0),
                                  ('amplitude+r=0.25', 'combined', 0.25, 'amplitude', 8.0)])
    s1 = _study_dir(tmp_path, 1, [('r=0', 'ratio', 0.0, None, 20.0),
                                  ('r=0.25', 'ratio', 0.25, None, 21.0),
                                  ('mixstyle+r=0.5', 'combined', 0.5, 'mixstyle', 18.0)])
    out = str(tmp_path / 'joined')
    join.main([s0, s1, '--out', out])
    md = open(osp.join(out, 'results.md')).read()
    # paired: -10 % in seed 0, +5 % in seed 1
    assert '| r=0.25 | 0.25 | - | 2 | 15.000 ± 8.485 |' in md
    assert '-2.5 ± 10.6 % (1/2 lower)' in md
    # the combined arm picked per seed is one arm of two seeds, its picks listed
    assert '| combined |' in md and '(seed 0: amplitude+r=0.25, seed 1: mixstyle+r=0.5)' in md
    # its ratio and augmentation columns name each seed's pick, not the first seed's alone
    assert '| combined | 0.25/0.5 | amplitude/mixstyle | 2 |' in md
    assert osp.islink(osp.join(out, 'arms', 'r=0@seed1'))
    assert json.load(open(osp.join(s1, 'arms', 'mixstyle+r=0.5', 'metrics.json')))['arm'] == \
        'mixstyle+r=0.5'  # the study's own files are left alone
    with pytest.raises(Exception, match='not empty'):
        join.main([s0, s1, '--out', out])
    with pytest.raises(Exception, match='join each seed once'):
        join.main([s0, s0, '--out', str(tmp_path / 'twice')])
    other = _study_dir(tmp_path, 2, [('r=0', 'ratio', 0.0, None, 10.0)], epochs=3)
    with pytest.raises(Exception, match='differs .* in epochs'):
        join.main([s0, other, '--out', str(tmp_path / 'mixed')])
    with pytest.raises(Exception, match='not a ratio study'):
        join.main([str(tmp_path), '--out', str(tmp_path / 'none')])


def test_arms_are_ordered_by_kind_then_ratio_not_by_name():
    """'r=0.5' sorts before 'r=0' as a name; the tables and the val-curve plot put r = 0
    first, then the ratios, the oracle, the conventional and the combined arms."""
    study = load_tool('ratio_study')
    arms = [dict(arm='combined', kind='combined', ratio=0.5),
            dict(arm='jitter', kind='conventional', ratio=0.0),
            dict(arm='truth_r=0.5', kind='truth', ratio=0.5),
            dict(arm='r=0.5', kind='ratio', ratio=0.5),
            dict(arm='r=0', kind='ratio', ratio=0.0)]
    assert [m['arm'] for m in sorted(arms, key=study.arm_order)] == \
        ['r=0', 'r=0.5', 'truth_r=0.5', 'jitter', 'combined']
