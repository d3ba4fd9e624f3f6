from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="aloft",
    version="0.1.0",
    description="Self-hosted uptime monitoring with a documented REST API and pip-installable plugins.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["aloft", "aloft.*"]),
    package_data={"aloft.web": ["templates/*.html", "static/*"]},
    install_requires=[
        "flask>=3.0",
        "flask-smorest>=0.45",
        "marshmallow>=3.20",
        "flask-sqlalchemy>=3.1",
        "sqlalchemy>=2.0.30",
        "flask-migrate>=4.0",
        "alembic>=1.13",
        "flask-limiter>=4.0",
        "limits>=5.0",
        "rq>=1.16",
        "redis>=5.0",
        "gunicorn>=22.0",
        "psycopg[binary]>=3.1.18",
        "requests>=2.31",
        "python-dotenv>=1.0",
        "pluggy>=1.5",
        "certifi>=2024.2.2",
        "flask-swagger-ui>=5.34.0",
        "openapi-ui-bundles>=0.3.0",
        "cryptography>=42",
        "flask-login>=0.6.3",
        "flask-wtf>=1.2",
        "argon2-cffi>=23.1",
        "zxcvbn>=4.4.28",
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "trustme>=1.1",
            "aiosmtpd>=1.4.4",
            "hypothesis>=6",
        ],
    },
    entry_points={"console_scripts": ["aloft = aloft.cli:main"]},
)
