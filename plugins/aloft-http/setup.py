from pathlib import Path

from setuptools import setup

setup(
    name="aloft-http",
    version="0.1.0",
    description="HTTP(S) check type for Aloft: status codes, keywords, redirects, TLS.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_http"],
    install_requires=["aloft"],
    entry_points={"aloft": ["http = aloft_http"]},
)
