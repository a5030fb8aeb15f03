<?php
/**
 * suitecrm-ext package installer: runs SuiteCRM's own ModuleInstaller from the command line.
 *
 * Usage: php install_package.php SUITECRM_ROOT install|uninstall UNZIPPED_PACKAGE_DIR [TABLE ...]
 *
 * Boots SuiteCRM (include/entryPoint.php) as the system administrator, runs
 * ModuleInstaller::install() or ::uninstall() on the unzipped package, then a Quick Repair and Rebuild
 * (RepairAndClear::repairAndClearAll with autoexecute, which also executes the vardef/DB SQL diff),
 * and prints one line "SUITECRM_EXT_RESULT <json>" with what happened and which TABLEs exist afterwards.
 * Exit status: 0 done, 2 failed (the JSON says why), 64 bad usage.
 */

function suitecrm_ext_result(array $result, $status)
{
    while (ob_get_level() > 0) {
        $result['output'] = (isset($result['output']) ? $result['output'] : '') . ob_get_clean();
    }
    if (isset($result['output'])) {
        $result['output'] = substr($result['output'], -4000);
    }
    echo 'SUITECRM_EXT_RESULT ' . json_encode($result) . "\n";
    exit($status);
}

if (PHP_SAPI !== 'cli') {
    die('command line only');
}
if ($argc < 4 || !in_array($argv[2], array('install', 'uninstall'), true)) {
    fwrite(STDERR, "usage: php install_package.php SUITECRM_ROOT install|uninstall PACKAGE_DIR [TABLE ...]\n");
    exit(64);
}
$root = $argv[1];
$action = $argv[2];
$package_dir = realpath($argv[3]);
$tables = array_slice($argv, 4);
$result = array('action' => $action, 'ok' => false, 'steps' => array());

if ($package_dir === false || !is_file($package_dir . '/manifest.php')) {
    $result['error'] = 'no manifest.php in the package directory ' . $argv[3];
    suitecrm_ext_result($result, 2);
}
if (!chdir($root)) {
    $result['error'] = 'cannot change to the SuiteCRM root ' . $root;
    suitecrm_ext_result($result, 2);
}

ob_start();
try {
    if (!defined('sugarEntry')) {
        define('sugarEntry', true);
    }
    require_once 'include/entryPoint.php';
    global $current_user, $current_language, $mod_strings, $db;
    $current_user = BeanFactory::newBean('Users');
    $current_user->getSystemUser();
    if (empty($current_user->id) || !is_admin($current_user)) {
        $result['error'] = 'SuiteCRM has no active administrator user to install as';
        suitecrm_ext_result($result, 2);
    }
    $result['steps'][] = 'booted as ' . $current_user->user_name;

    require_once 'ModuleInstall/ModuleInstaller.php';
    $installer = new ModuleInstaller();
    $installer->silent = true;
    if ($action === 'install') {
        $installer->install($package_dir);
    } else {
        $installer->uninstall($package_dir);
    }
    $result['steps'][] = 'ModuleInstaller::' . $action;

    require_once 'modules/Administration/QuickRepairAndRebuild.php';
    $mod_strings = return_module_language($current_language, 'Administration');
    $repair = new RepairAndClear();
    $repair->repairAndClearAll(array('clearAll'), array($mod_strings['LBL_ALL_MODULES']), true, false);
    $result['steps'][] = 'quick repair and rebuild (SQL diff executed)';

    $result['tables'] = array();
    foreach ($tables as $table) {
        $result['tables'][$table] = (bool)$GLOBALS['db']->tableExists($table);
    }
    $result['ok'] = true;
} catch (Throwable $e) {
    $result['error'] = get_class($e) . ': ' . $e->getMessage();
    suitecrm_ext_result($result, 2);
}
suitecrm_ext_result($result, 0);
