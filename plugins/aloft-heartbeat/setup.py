from pathlib import Path

from setuptools import setup

setup(
    name="aloft-heartbeat",
    version="0.1.0",
    description="Heartbeat check type for Aloft: jobs ping a secret URL; silence or a reported failure means down.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_heartbeat"],
    install_requires=["aloft", "croniter>=2.0", "tzdata>=2024.1"],
    entry_points={"aloft": ["heartbeat = aloft_heartbeat"]},
)
