from pathlib import Path

from setuptools import setup

setup(
    name="aloft-tcp",
    version="0.1.0",
    description="TCP check type for Aloft: a port accepts connections within the timeout.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_tcp"],
    install_requires=["aloft"],
    entry_points={"aloft": ["tcp = aloft_tcp"]},
)
