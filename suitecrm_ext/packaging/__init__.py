"""SuiteCRM Module Loader packages built from each plugin's declarative schema (``schema.yaml``).

- :mod:`~suitecrm_ext.packaging.schema`: load and validate a schema (format: ``docs/package-schema.md``);
- :mod:`~suitecrm_ext.packaging.builder`: build the zip (``manifest.php`` + ``SugarModules/``);
- :mod:`~suitecrm_ext.packaging.installer`: install/uninstall it with SuiteCRM's ModuleInstaller via php-cli;
- :mod:`~suitecrm_ext.packaging.ddl`: the MariaDB tables SuiteCRM would create, for tests;
- :mod:`~suitecrm_ext.packaging.fake`: register a schema's modules, fields and links into a FakeCRM.
"""

from suitecrm_ext.packaging.builder import PackageError, build_package
from suitecrm_ext.packaging.installer import InstallError, run_installer
from suitecrm_ext.packaging.schema import Schema, SchemaError, load_schema, load_schema_file

__all__ = ["InstallError", "PackageError", "Schema", "SchemaError", "build_package", "load_schema",
           "load_schema_file", "run_installer"]
