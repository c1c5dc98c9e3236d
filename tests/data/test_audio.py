"""The audio view: mu-law companding, WAV reading and resampling, windows of
a WAV folder, and the espeak-ng "speech" dataset through the registry."""

import os
import shutil

import numpy as np
import pytest

from tfdgm import data
from tfdgm.data import audio


def test_mu_law_round_trip_error_is_within_half_a_level():
    x = np.linspace(-1.0, 1.0, 10001)
    levels = audio.mu_law_encode(x)
    assert levels.min() == 0 and levels.max() == 255 and np.all(np.diff(levels) >= 0)
    decoded = audio.mu_law_decode(levels)
    # error bounded by half the width of the level in the companded domain
    companded = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
    recompanded = np.sign(decoded) * np.log1p(255 * np.abs(decoded)) / np.log1p(255)
    assert np.max(np.abs(companded - recompanded)) <= 1.0 / 255 + 1e-6
    # quiet sounds get many levels (the point of companding)
    assert len(np.unique(levels[np.abs(x) < 0.1])) > 100


def _tone(frequency, seconds, rate):
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * frequency * t)


def test_wav_round_trip_and_resampling_keep_the_pitch(tmp_path):
    path = str(tmp_path / "tone.wav")
    audio.write_wav(path, _tone(440.0, 0.5, 22050), 22050)
    signal, rate = audio.read_wav(path)
    assert rate == 22050
    np.testing.assert_allclose(signal, _tone(440.0, 0.5, 22050), atol=1e-4)
    resampled = audio.resample(signal, 22050, 16000)
    assert len(resampled) == 8000
    spectrum = np.abs(np.fft.rfft(resampled))
    assert abs(np.argmax(spectrum) * 16000 / len(resampled) - 440.0) < 3.0


def test_wav_folder_gives_windows_labelled_by_subfolder_and_disjoint_splits(tmp_path):
    for label, frequency in enumerate((220.0, 330.0)):
        folder = tmp_path / f"speaker_{label}"
        folder.mkdir()
        for index in range(12):
            audio.write_wav(str(folder / f"{index}.wav"), _tone(frequency * (1 + index / 50), 0.3, 8000), 8000)
    x, y = audio.load_wav_folder(str(tmp_path), length=1024)
    assert x.shape[1] == 1024 and x.dtype == np.float32 and set(np.unique(y)) == {0, 1}
    assert x.min() >= 0 and x.max() <= 255 and np.all(x == np.round(x))
    sizes = [len(audio.load_wav_folder(str(tmp_path), length=1024, split=split)[0])
             for split in ("train", "validation", "test")]
    assert sum(sizes) == len(x)
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DatasetError, match="no .wav files"):
        audio.load_wav_folder(str(tmp_path / "empty"))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)")
def test_speech_dataset_is_synthesized_offline_and_loads_through_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDGM_CACHE_DIR", str(tmp_path))
    info = data.dataset_info("speech")
    assert info.event_shape == (4096,) and info.num_levels == 256 and info.num_classes == 4
    batch, labels = next(iter(data.load("speech", split="test", batch_size=64, shuffle=True, with_labels=True)))
    assert batch.shape == (64, 4096) and set(np.unique(labels.numpy())) <= {0, 1, 2, 3}
    assert os.path.exists(tmp_path / "speech" / "0_en" / "019.wav")
    values = batch.numpy()
    assert values.min() >= 0 and values.max() <= 255 and values.std() > 5  # real, varied sound
    # any WAV folder stands in for the synthesized corpus
    x, y = data.load_arrays("speech", split="train", data_dir=str(tmp_path / "speech"))
    assert x.shape[1] == 4096 and set(np.unique(y)) <= {0, 1, 2, 3}
