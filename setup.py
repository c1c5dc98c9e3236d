"""tfdgm: deep generative models for TensorFlow (Keras 3 + TensorFlow Probability)."""
from setuptools import find_packages, setup

setup(
    name="tfdgm",
    version="0.1.0",
    description="Deep generative models as Keras 3 models over TFP distributions and bijectors",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["tfdgm", "tfdgm.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tensorflow-probability~=0.25.0",
        # TFP 0.25 refuses to import without tf-keras; tfdgm itself never imports it.
        "tf-keras~=2.21.0",
        "keras>=3.10,<4",
        "tensorflow-datasets>=4.9,<5",
        "tensorboard>=2.21,<2.22",  # TF 2.21 no longer pulls it in; Keras TensorBoard callback needs it
        "scikit-learn>=1.3,<2",  # ships the 8x8 `digits` set
        "numpy>=1.26,<3",
        "h5py>=3.10,<4",
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "pytest-xdist>=3.5,<4",
            "nbclient>=0.10,<0.12",
            "nbformat>=5.9,<6",
            "ipykernel>=6.29,<8",
        ],
    },
    entry_points={"console_scripts": ["tfdgm=tfdgm.cli:main"]},
)
