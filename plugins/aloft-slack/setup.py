from pathlib import Path

from setuptools import setup

setup(
    name="aloft-slack",
    version="0.1.0",
    description="Slack channel type for Aloft: incidents posted to a Slack incoming webhook.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_slack"],
    install_requires=["aloft"],
    entry_points={"aloft": ["slack = aloft_slack"]},
)
