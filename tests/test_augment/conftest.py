import pytest

from ._fixtures import make_tiny_synthhands, save_tiny_generator


@pytest.fixture(scope='session')
def tiny_generator(tmp_path_factory):
    return save_tiny_generator(str(tmp_path_factory.mktemp('gen') / 'tiny_generator.pth'))


@pytest.fixture(scope='session')
def tiny_generator_rgb(tmp_path_factory):
    return save_tiny_generator(str(tmp_path_factory.mktemp('gen') / 'tiny_generator_rgb.pth'),
                               channels=3)


@pytest.fixture(scope='session')
def tiny_synth(tmp_path_factory):
    return make_tiny_synthhands(str(tmp_path_factory.mktemp('synth') / 'synthhands'))
