import pytest

from ._fixtures import LABELS_SELFDIS, STUDY_CFG, make_tiny_synthhands, save_tiny_generator


@pytest.fixture(scope='session')
def tiny_generator(tmp_path_factory):
    return save_tiny_generator(str(tmp_path_factory.mktemp('gen') / 'tiny_generator.pth'))


@pytest.fixture(scope='session')
def tiny_label_generator(tmp_path_factory):
    """A tiny generator trained to draw the pose image's labelled keypoints."""
    return save_tiny_generator(str(tmp_path_factory.mktemp('gen') / 'tiny_label_gen.pth'),
                               selfdis=LABELS_SELFDIS)


@pytest.fixture(scope='session')
def tiny_background_generator(tmp_path_factory):
    """A tiny label-drawing generator that paints the hand over the appearance crop."""
    return save_tiny_generator(str(tmp_path_factory.mktemp('gen') / 'tiny_bg_gen.pth'),
                               selfdis=dict(LABELS_SELFDIS, background=dict()))


@pytest.fixture(scope='session')
def tiny_generator_rgb(tmp_path_factory):
    return save_tiny_generator(str(tmp_path_factory.mktemp('gen') / 'tiny_generator_rgb.pth'),
                               channels=3)


@pytest.fixture(scope='session')
def tiny_synth(tmp_path_factory):
    return make_tiny_synthhands(str(tmp_path_factory.mktemp('synth') / 'synthhands'))


@pytest.fixture(scope='module')
def train_config(tiny_synth, tmp_path_factory):
    """The ratio-study pose config reading the tiny SynthHands set."""
    path = tmp_path_factory.mktemp('cfg') / 'train_cfg.py'
    path.write_text(
        f"_base_ = ['{STUDY_CFG}']\n"
        f"train_dataloader = dict(dataset=dict(data_root='{tiny_synth}/'))\n")
    return str(path)
