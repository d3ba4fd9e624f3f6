from pathlib import Path

from setuptools import setup

setup(
    name="aloft-email",
    version="0.1.0",
    description="E-mail channel type for Aloft: incidents mailed over SMTP with verified TLS.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_email"],
    install_requires=["aloft"],
    entry_points={"aloft": ["email = aloft_email"]},
)
