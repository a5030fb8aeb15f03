<?php
// Stub SuiteCRM root for the installer tests: only what install_package.php touches.
$sugar_config = array('dbconfig' => array('db_type' => 'mysql'));
