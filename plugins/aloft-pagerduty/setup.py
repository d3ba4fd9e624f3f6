from pathlib import Path

from setuptools import setup

setup(
    name="aloft-pagerduty",
    version="0.1.0",
    description="PagerDuty channel type for Aloft: incidents as PagerDuty Events API v2 alerts.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_pagerduty"],
    install_requires=["aloft"],
    entry_points={"aloft": ["pagerduty = aloft_pagerduty"]},
)
