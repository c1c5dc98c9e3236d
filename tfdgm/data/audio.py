"""Audio as sequences of mu-law levels: WAV files -> mono 16 kHz -> 256-level
mu-law codes -> fixed-length windows (for WaveNet).

The registered "speech" dataset is synthesized offline by Debian's `espeak-ng`
(`apt-get install espeak-ng`): a fixed list of sentences spoken by four
voices (the class label is the voice, for global conditioning), cached under
`~/.cache/tfdgm/speech` (or `$TFDGM_CACHE_DIR/speech`). Any folder of WAV
files works too: `load_wav_folder(path)`, or `tfdgm.data.load("speech",
data_dir=path)` (labels are then the sub-folder of each file, or 0).

References:
  ITU-T Recommendation G.711 (mu-law companding);
  van den Oord et al., "WaveNet: A Generative Model for Raw Audio", 2016,
  Sec. 2.2 (mu-law to 256 levels), https://arxiv.org/abs/1609.03499
"""

import hashlib
import os
import shutil
import subprocess
import wave

import numpy as np

from tfdgm.data.errors import DatasetError

__all__ = [
    "SAMPLE_RATE",
    "WINDOW",
    "mu_law_encode",
    "mu_law_decode",
    "read_wav",
    "write_wav",
    "resample",
    "windows",
    "load_wav_folder",
    "synthesize_speech",
    "speech_split",
]

SAMPLE_RATE = 16_000
WINDOW = 4096  # samples per example of the "speech" dataset (0.256 s)
_HOP = WINDOW // 2
VOICES = ("en", "en-us", "en+f3", "en-us+m3")  # espeak-ng voices = the 4 classes of "speech"
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "A generative model learns the distribution of its data.",
    "Every sample depends on all the samples before it.",
    "Dilated convolutions see far into the past at little cost.",
    "She sells sea shells by the sea shore.",
    "Seven slow swans swam silently across the still lake.",
    "How much wood would a woodchuck chuck if a woodchuck could chuck wood?",
    "Peter Piper picked a peck of pickled peppers.",
    "The rain in Spain stays mainly in the plain.",
    "Numbers such as one, two, three, four and five are easy to say.",
    "Autoregressive models are exact but slow to sample.",
    "Good morning, and welcome to the audio tutorial.",
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "Call me when you have finished reading the paper.",
    "The weather will be sunny with a chance of showers later.",
    "Please speak clearly after the tone.",
    "Machine learning needs data, compute and patience.",
    "A journey of a thousand miles begins with a single step.",
    "Bright yellow lemons hung from the old tree.",
    "We measured the likelihood in bits per dimension.",
)


def mu_law_encode(audio, num_levels=256):
    """Mu-law companding and quantization: F(x) = sign(x) ln(1 + mu|x|) /
    ln(1 + mu), mu = L - 1, mapped to levels {0, ..., L-1}.
    audio: float array in [-1, 1] -> int64 levels of the same shape."""
    mu = float(num_levels - 1)
    audio = np.clip(np.asarray(audio, np.float64), -1.0, 1.0)
    companded = np.sign(audio) * np.log1p(mu * np.abs(audio)) / np.log1p(mu)
    return np.clip(np.floor((companded + 1.0) / 2.0 * mu + 0.5), 0, mu).astype(np.int64)


def mu_law_decode(levels, num_levels=256):
    """Inverse of `mu_law_encode` (up to quantization): levels -> float32 in [-1, 1]."""
    mu = float(num_levels - 1)
    companded = 2.0 * np.asarray(levels, np.float64) / mu - 1.0
    return (np.sign(companded) * np.expm1(np.abs(companded) * np.log1p(mu)) / mu).astype(np.float32)


def read_wav(path):
    """A PCM WAV file as mono float32 in [-1, 1] and its sample rate. -> (audio [T], rate)."""
    try:
        with wave.open(path, "rb") as handle:
            rate, width, channels = handle.getframerate(), handle.getsampwidth(), handle.getnchannels()
            raw = handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as error:
        raise DatasetError(f"cannot read {path!r} as a PCM WAV file: {error}") from None
    if width == 1:
        audio = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        audio = np.frombuffer(raw, dtype).astype(np.float32) / float(np.iinfo(dtype).max + 1)
    else:
        raise DatasetError(f"{path!r}: expected 8, 16 or 32-bit PCM, got {8 * width}-bit samples")
    return audio.reshape(-1, channels).mean(axis=1), rate


def write_wav(path, audio, rate=SAMPLE_RATE):
    """Writes float audio in [-1, 1] as 16-bit mono PCM."""
    pcm = (np.clip(np.asarray(audio, np.float64), -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(int(rate))
        handle.writeframes(pcm.tobytes())


def resample(audio, rate_in, rate_out=SAMPLE_RATE, taps=63):
    """Resamples by a windowed-sinc low-pass (cut-off 0.45 of the lower
    rate) and linear interpolation. audio: [T] float -> [T * rate_out / rate_in]."""
    if rate_in == rate_out:
        return np.asarray(audio, np.float32)
    cutoff = 0.45 * min(rate_in, rate_out) / rate_in  # cycles per input sample
    n = np.arange(taps) - (taps - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
    filtered = np.convolve(audio, kernel / kernel.sum(), mode="same")
    times = np.arange(int(len(audio) * rate_out / rate_in)) * (rate_in / rate_out)
    return np.interp(times, np.arange(len(audio)), filtered).astype(np.float32)


def windows(levels, length=WINDOW, hop=None):
    """Overlapping fixed-length windows of a sequence. -> [num_windows, length]."""
    hop = length // 2 if hop is None else hop
    levels = np.asarray(levels)
    if len(levels) < length:
        return np.zeros([0, length], levels.dtype)
    starts = np.arange(0, len(levels) - length + 1, hop)
    return np.stack([levels[s: s + length] for s in starts])


def _trim_silence(audio, threshold=0.01):
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0]: loud[-1] + 1] if len(loud) else audio


def load_wav_folder(path, length=WINDOW, hop=None, rate=SAMPLE_RATE, num_levels=256, split=None):
    """Every WAV file under `path` as mu-law windows.

    Files are read in sorted order; a file in sub-folder s (of `path`) gets the
    label index of s among the sorted sub-folders, files directly in `path`
    get label 0. With `split`, files are assigned to "train" / "validation" /
    "test" by a hash of their name (80 / 10 / 10), so windows of one file
    never cross splits.

    Arguments:
      path: folder of .wav files (searched recursively).
      length: samples per window; hop: step between windows (length // 2).
      rate: target sample rate; num_levels: mu-law levels.
      split: None (all files) or a split name.
    Returns:
      x: float32 [N, length] levels; y: int64 [N] labels.
    Raises:
      DatasetError: a missing folder, no WAV files, or no file long enough.
    """
    if not os.path.isdir(path):
        raise DatasetError(f"audio folder {path!r} not found: expected a folder of .wav files")
    files = sorted(os.path.join(root, name) for root, _, names in os.walk(path)
                   for name in names if name.lower().endswith(".wav"))
    if not files:
        raise DatasetError(f"no .wav files under {path!r}")
    folders = sorted({os.path.relpath(os.path.dirname(f), path) for f in files} - {"."})
    xs, ys = [], []
    for file in files:
        if split is not None and _split_of(os.path.relpath(file, path)) != split:
            continue
        audio, file_rate = read_wav(file)
        levels = mu_law_encode(resample(_trim_silence(audio), file_rate, rate), num_levels)
        chunk = windows(levels, length, hop)
        folder = os.path.relpath(os.path.dirname(file), path)
        xs.append(chunk)
        ys.append(np.full(len(chunk), folders.index(folder) if folder in folders else 0, np.int64))
    x = np.concatenate(xs) if xs else np.zeros([0, length])
    if len(x) == 0:
        raise DatasetError(f"no window of {length} samples in the {split or 'selected'} files of {path!r}: "
                           "expected longer recordings or a smaller window")
    return x.astype(np.float32), np.concatenate(ys)


def _split_of(name):
    bucket = int(hashlib.md5(name.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


def _cache_dir():
    root = os.environ.get("TFDGM_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "tfdgm"))
    return os.path.join(root, "speech")


def synthesize_speech(directory=None, voices=VOICES, sentences=SENTENCES):
    """Speaks every sentence with every voice with `espeak-ng` into
    `directory/<voice>/<index>.wav` (skipping files already there). -> directory.

    Raises:
      DatasetError: espeak-ng is not installed.
    """
    directory = directory or _cache_dir()
    program = shutil.which("espeak-ng")
    for v, voice in enumerate(voices):
        folder = os.path.join(directory, f"{v}_{voice.replace('+', '_')}")
        os.makedirs(folder, exist_ok=True)
        for index, sentence in enumerate(sentences):
            target = os.path.join(folder, f"{index:03d}.wav")
            if os.path.exists(target):
                continue
            if program is None:
                raise DatasetError("the 'speech' dataset is synthesized with espeak-ng, which is not installed: "
                                   "apt-get install espeak-ng (or load any WAV folder with data_dir=PATH)")
            temporary = target + ".tmp.wav"
            subprocess.run([program, "-v", voice, "-s", "150", "-w", temporary, sentence], check=True,
                           capture_output=True)
            os.replace(temporary, target)
    return directory


def speech_split(split, data_dir=None):
    """One split of the "speech" dataset: mu-law windows [N, 4096] (float32
    levels 0..255 at 16 kHz) and voice labels [N]. Sentences 0-15 are
    "train", 16-17 "validation", 18-19 "test", for every voice.

    Arguments:
      split: "train", "validation" or "test".
      data_dir: a folder of WAV files to use instead (split by file-name
        hash, labels from sub-folders; see `load_wav_folder`).
    """
    if data_dir is not None:
        return load_wav_folder(data_dir, split=split)
    directory = synthesize_speech()
    version = hashlib.md5(repr((VOICES, SENTENCES, WINDOW, _HOP, SAMPLE_RATE)).encode()).hexdigest()[:8]
    cache = os.path.join(directory, f"{split}_{version}.npz")
    if os.path.exists(cache):
        stored = np.load(cache)
        return stored["x"], stored["y"]
    sentences = {"train": range(0, 16), "validation": range(16, 18), "test": range(18, 20)}[split]
    xs, ys = [], []
    for v, voice in enumerate(VOICES):
        folder = os.path.join(directory, f"{v}_{voice.replace('+', '_')}")
        for index in sentences:
            audio, rate = read_wav(os.path.join(folder, f"{index:03d}.wav"))
            chunk = windows(mu_law_encode(resample(_trim_silence(audio), rate)), WINDOW, _HOP)
            xs.append(chunk)
            ys.append(np.full(len(chunk), v, np.int64))
    x, y = np.concatenate(xs).astype(np.float32), np.concatenate(ys)
    np.savez(cache + ".tmp.npz", x=x, y=y)
    os.replace(cache + ".tmp.npz", cache)
    return x, y
