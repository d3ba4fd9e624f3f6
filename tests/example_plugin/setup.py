from pathlib import Path

from setuptools import setup

setup(
    name="aloft-json-field",
    version="0.1.0",
    description="A check type for Aloft: GET a URL and compare one field of its JSON answer with a value.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["aloft_json_field"],
    install_requires=["aloft"],
    entry_points={"aloft": ["json-field = aloft_json_field"]},
)
