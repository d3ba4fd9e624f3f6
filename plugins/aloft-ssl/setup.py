from pathlib import Path

from setuptools import setup

setup(
    name="aloft-ssl",
    version="0.1.0",
    description="TLS certificate check type for Aloft: validity for the host, trust, and days to expiry.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_ssl"],
    install_requires=["aloft", "cryptography>=42"],
    entry_points={"aloft": ["ssl = aloft_ssl"]},
)
