<?php
/**
 * suitecrm-ext package installer: does from the command line what Admin -> Module Loader does.
 *
 * Usage: php install_package.php SUITECRM_ROOT scan|install|uninstall|status PACKAGE_ZIP [TABLE ...]
 *   (run it as the web server user -- the owner of config.php -- so every file it writes is that
 *   user's, as after an upload through the browser; suitecrm-ext's `package install` does so)
 *
 * Boots SuiteCRM (include/entryPoint.php) as the system administrator and, like the Module Loader
 * (modules/Administration/UpgradeWizard*.php, ModuleInstall/PackageManager/PackageManager.php):
 *  - scan: unzips the package into upload/upgrades/temp and runs SuiteCRM's ModuleScanner on it;
 *  - install: scans (a package with issues is refused when
 *    $sugar_config['moduleInstaller']['packageScan'] is on, reported otherwise), checks the manifest's
 *    dependencies with UpgradeHistory::checkDependencies as UpgradeWizard_prepare.php does (plus the
 *    min_version suitecrm-ext writes beside SuiteCRM's version), keeps the zip and
 *    its manifest in upload/upgrades/module/, runs ModuleInstaller::install() -- as an upgrade when
 *    an older version is installed, as Module Loader does --, writes the upgrade_history row that
 *    Module Loader lists (and uninstalls from), then a Quick Repair and Rebuild that executes the
 *    SQL diff. The same package (same id, version and bytes) installed again changes nothing; the
 *    same version with other bytes (e.g. another sidecar URL) replaces the installed one;
 *  - uninstall: refused while another installed package depends on this one (Module Loader does not
 *    check that); ModuleInstaller::uninstall() on the installed zip, keeping the module tables and
 *    their data (Module Loader's "do not remove tables"), removes the upgrade_history row and the
 *    stored zip (as PackageManager::performUninstall), then a Quick Repair and Rebuild;
 *  - status: what upgrade_history says about the package.
 * Prints one line "SUITECRM_EXT_RESULT <json>" and exits 0 (done), 2 (failed: the JSON says why)
 * or 64 (bad usage).
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
$actions = array('scan', 'install', 'uninstall', 'status');
if ($argc < 4 || !in_array($argv[2], $actions, true)) {
    fwrite(STDERR, "usage: php install_package.php SUITECRM_ROOT scan|install|uninstall|status PACKAGE_ZIP [TABLE ...]\n");
    exit(64);
}
$root = $argv[1];
$action = $argv[2];
$zip = realpath($argv[3]);
$tables = array_slice($argv, 4);
$result = array('action' => $action, 'ok' => false, 'steps' => array(), 'warnings' => array());

if ($zip === false || !is_file($zip)) {
    $result['error'] = 'no package zip at ' . $argv[3];
    suitecrm_ext_result($result, 2);
}
if (!chdir($root)) {
    $result['error'] = 'cannot change to the SuiteCRM root ' . $root;
    suitecrm_ext_result($result, 2);
}

/** Unzip $zip into a fresh directory under upload/upgrades/temp (as Module Loader does). */
function suitecrm_ext_unzip($zip)
{
    $upload = rtrim(empty($GLOBALS['sugar_config']['upload_dir']) ? 'upload' : $GLOBALS['sugar_config']['upload_dir'], '/\\');
    $base = $upload . '/upgrades/temp';
    if (!is_dir($base)) {
        mkdir_recursive($base, true);
    }
    $dir = mk_temp_dir($base);
    require_once 'include/utils/php_zip_utils.php';
    if (!unzip($zip, $dir) || !is_file($dir . '/manifest.php')) {
        throw new RuntimeException('cannot unpack the package (or it has no manifest.php): ' . $zip);
    }
    return $dir;
}

/** The package's $manifest and $installdefs (ModuleScanner's MSLoadManifest reads them the same way). */
function suitecrm_ext_manifest($dir)
{
    $manifest = array();
    $installdefs = array();
    $upgrade_manifest = '';
    include $dir . '/manifest.php';
    return array($manifest, $installdefs, $upgrade_manifest);
}

/** ModuleScanner's issues as "file: issue" lines (paths relative to the package). */
function suitecrm_ext_scan($dir)
{
    require_once 'ModuleInstall/ModuleScanner.php';
    $ms = new ModuleScanner();
    $ms->scanPackage($dir);
    $lines = array();
    foreach ($ms->getIssues() as $type => $issues) {
        foreach ($issues as $file => $issue) {
            $file = str_replace($dir . '/', '', (string)$file);
            foreach ((array)$issue as $text) {
                $lines[] = $type . ' ' . $file . ': ' . trim(strip_tags((string)$text));
            }
        }
    }
    return $lines;
}

function suitecrm_ext_scan_enabled()
{
    return (defined('MODULE_INSTALLER_PACKAGE_SCAN') && MODULE_INSTALLER_PACKAGE_SCAN)
        || !empty($GLOBALS['sugar_config']['moduleInstaller']['packageScan']);
}

/** upgrade_history rows of a package id, newest first. */
function suitecrm_ext_history($id_name)
{
    $uh = new UpgradeHistory();
    $rows = array();
    $res = $uh->db->query('SELECT id FROM upgrade_history WHERE id_name = ' . $uh->db->quoted($id_name)
        . ' ORDER BY date_entered DESC');
    while ($row = $uh->db->fetchByAssoc($res)) {
        $one = new UpgradeHistory();
        $one->retrieve($row['id']);
        $rows[] = $one;
    }
    return $rows;
}

/**
 * The dependencies of $manifest that are not installed: SuiteCRM's own check (UpgradeHistory::checkDependencies,
 * as UpgradeWizard_prepare.php runs it; it takes the entry's version as an upper bound), then the lowest
 * version the package was built against ('min_version', which SuiteCRM ignores).
 */
function suitecrm_ext_missing_dependencies(array $manifest)
{
    if (empty($manifest['dependencies']) || !is_array($manifest['dependencies'])) {
        return array();
    }
    $uh = new UpgradeHistory();
    $missing = array();
    foreach ($uh->checkDependencies($manifest['dependencies']) as $id_name) {
        $missing[] = (string)$id_name;
    }
    foreach ($manifest['dependencies'] as $dep) {
        $id_name = isset($dep['id_name']) ? (string)$dep['id_name'] : '';
        if ($id_name === '' || in_array($id_name, $missing, true) || empty($dep['min_version'])) {
            continue;
        }
        $new_enough = false;
        foreach (suitecrm_ext_history($id_name) as $row) {
            $new_enough = $new_enough || version_compare((string)$row->version, (string)$dep['min_version'], '>=');
        }
        if (!$new_enough) {
            $missing[] = $id_name . ' ' . $dep['min_version'] . ' or newer';
        }
    }
    return $missing;
}

/** Installed packages whose manifest lists $id_name among its dependencies (id_name => name). */
function suitecrm_ext_dependents($id_name)
{
    $uh = new UpgradeHistory();
    $out = array();
    $res = $uh->db->query("SELECT id FROM upgrade_history WHERE status = 'installed'");
    while ($row = $uh->db->fetchByAssoc($res)) {
        $one = new UpgradeHistory();
        $one->retrieve($row['id']);
        $stored = @unserialize(base64_decode((string)$one->manifest), array('allowed_classes' => false));
        $deps = isset($stored['manifest']['dependencies']) ? (array)$stored['manifest']['dependencies'] : array();
        foreach ($deps as $dep) {
            if (is_array($dep) && isset($dep['id_name']) && (string)$dep['id_name'] === $id_name) {
                $out[(string)$one->id_name] = (string)$one->name;
            }
        }
    }
    return $out;
}

function suitecrm_ext_describe($uh)
{
    return array('id' => $uh->id, 'version' => $uh->version, 'md5sum' => $uh->md5sum, 'status' => $uh->status,
                 'filename' => $uh->filename, 'file_present' => is_file($uh->filename),
                 'enabled' => (bool)$uh->enabled, 'name' => $uh->name, 'date_entered' => $uh->date_entered);
}

function suitecrm_ext_repair(array &$result)
{
    global $current_language, $mod_strings;
    require_once 'modules/Administration/QuickRepairAndRebuild.php';
    $mod_strings = return_module_language($current_language, 'Administration');
    $repair = new RepairAndClear();
    $repair->repairAndClearAll(array('clearAll'), array($mod_strings['LBL_ALL_MODULES']), true, false);
    $result['steps'][] = 'quick repair and rebuild (SQL diff executed)';
}

/** Module Loader's uninstall of an installed package (files, registrations; tables kept). */
function suitecrm_ext_uninstall_row($uh, array &$result)
{
    if (is_file($uh->filename)) {
        $dir = suitecrm_ext_unzip($uh->filename);
        $GLOBALS['mi_remove_tables'] = false;
        $mi = new ModuleInstaller();
        $mi->silent = true;
        $mi->uninstall($dir);
        rmdir_recursive($dir);
        $result['steps'][] = 'ModuleInstaller::uninstall of ' . $uh->version . ' (tables kept)';
        @unlink(remove_file_extension($uh->filename) . '-manifest.php');
        @unlink($uh->filename);
    } else {
        $result['warnings'][] = 'the installed zip ' . $uh->filename . ' is gone; only its Module Loader entry is removed';
    }
    $uh->delete();
    $result['steps'][] = 'upgrade_history entry removed';
}

ob_start();
$unzipped = null;
try {
    if (!defined('sugarEntry')) {
        define('sugarEntry', true);
    }
    require_once 'include/entryPoint.php';
    require_once 'ModuleInstall/ModuleInstaller.php';
    require_once 'modules/Administration/UpgradeHistory.php';
    global $current_user, $db, $sugar_config;
    $current_user = BeanFactory::newBean('Users');
    $current_user->getSystemUser();
    if (empty($current_user->id) || !is_admin($current_user)) {
        $result['error'] = 'SuiteCRM has no active administrator user to install as';
        suitecrm_ext_result($result, 2);
    }
    $result['steps'][] = 'booted as ' . $current_user->user_name;
    $result['package_scan'] = suitecrm_ext_scan_enabled();

    $unzipped = suitecrm_ext_unzip($zip);
    list($manifest, $installdefs, $upgrade_manifest) = suitecrm_ext_manifest($unzipped);
    $id_name = isset($installdefs['id']) ? (string)$installdefs['id'] : '';
    $version = isset($manifest['version']) ? (string)$manifest['version'] : '';
    if ($id_name === '' || $version === '') {
        throw new RuntimeException('the manifest has no installdefs id or version');
    }
    $result['id_name'] = $id_name;
    $result['version'] = $version;
    $history = suitecrm_ext_history($id_name);
    $result['installed'] = array_map('suitecrm_ext_describe', $history);

    if ($action === 'scan' || $action === 'install') {
        $result['issues'] = suitecrm_ext_scan($unzipped);
        $result['steps'][] = 'ModuleScanner: ' . count($result['issues']) . ' issue(s)';
    }
    if ($action === 'install') {
        if (!empty($result['issues']) && $result['package_scan']) {
            throw new RuntimeException("SuiteCRM's package scan (moduleInstaller.packageScan) refuses the package: "
                . implode('; ', $result['issues']));
        }
        foreach ($result['issues'] as $issue) {
            $result['warnings'][] = 'package scan (off here) would refuse: ' . $issue;
        }
        $result['missing_dependencies'] = suitecrm_ext_missing_dependencies($manifest);
        if (!empty($result['missing_dependencies'])) {
            $admin_strings = return_module_language($GLOBALS['current_language'], 'Administration');
            $text = isset($admin_strings['ERR_UW_NO_DEPENDENCY']) ? $admin_strings['ERR_UW_NO_DEPENDENCY']
                : 'The following dependencies were not found on the system.';
            throw new RuntimeException('Module Loader refuses the package: ' . $text
                . '[' . implode(',', $result['missing_dependencies']) . ']');
        }
        $md5 = md5_file($zip);
        $previous = null;
        foreach ($history as $uh) {
            $uh_version = (string)$uh->version;
            if ($uh_version === $version && $uh->md5sum === $md5 && is_file($uh->filename)) {
                $result['unchanged'] = true;
                $result['steps'][] = "already installed: $id_name $version (the same package)";
                $result['ok'] = true;
                rmdir_recursive($unzipped);
                suitecrm_ext_result($result, 0);
            }
            if (version_compare($uh_version, $version, '>')) {
                throw new RuntimeException("$id_name $uh_version is installed, newer than $version; uninstall it first "
                    . '(Admin -> Module Loader, or package uninstall)');
            }
        }
        $upgrade_from = '';
        foreach ($history as $uh) {
            if ((string)$uh->version === $version) {
                // the same version with other bytes: take the installed one out first
                suitecrm_ext_uninstall_row($uh, $result);
            } elseif ($previous === null) {
                $previous = $uh; // older: an upgrade, as Module Loader does it
                $upgrade_from = (string)$uh->version;
            } else {
                $uh->delete(); // rows of even older versions Module Loader would have replaced
            }
        }
        // upload/upgrades/module/<zip> and <zip>-manifest.php, as PackageManager::performSetup
        $upload = rtrim(empty($sugar_config['upload_dir']) ? 'upload' : $sugar_config['upload_dir'], '/\\');
        mkdir_recursive($upload . '/upgrades/module');
        $target = $upload . '/upgrades/module/' . basename($zip);
        if ($previous !== null && realpath($previous->filename) !== realpath($target) && is_file($previous->filename)) {
            @unlink(remove_file_extension($previous->filename) . '-manifest.php');
            @unlink($previous->filename);
        }
        if (!copy($zip, $target) || !copy($unzipped . '/manifest.php', remove_file_extension($target) . '-manifest.php')) {
            throw new RuntimeException('cannot copy the package into ' . $upload . '/upgrades/module');
        }
        $result['steps'][] = 'kept in ' . $target;

        $mi = new ModuleInstaller();
        $mi->silent = true;
        if ($upgrade_from !== '') {
            $mi->install($unzipped, true, $upgrade_from);
            $result['steps'][] = "ModuleInstaller::install (upgrade from $upgrade_from)";
        } else {
            $mi->install($unzipped);
            $result['steps'][] = 'ModuleInstaller::install';
        }
        // SugarBean::create_tables() adds a module's ACL actions only when it creates the table; over kept
        // tables (a reinstall: the uninstall before it removed the actions, modules/ACL/remove_actions.php)
        // the modules would have none and no role could give or take rights on them. Admin -> Repair ->
        // Repair Roles does the same (modules/ACL/install_actions.php); addActions skips existing ones.
        require_once 'modules/ACLActions/ACLAction.php';
        foreach (isset($installdefs['beans']) ? $installdefs['beans'] : array() as $bean) {
            ACLAction::addActions($bean['module']);
        }
        if (!empty($installdefs['beans'])) {
            $result['steps'][] = 'ACL actions of the modules ensured (as Repair Roles)';
        }

        // the row Module Loader writes (UpgradeWizard_commit.php) and lists in Admin -> Module Loader
        $row = new UpgradeHistory();
        if ($previous !== null) {
            $row->id = $previous->id;
        }
        $row->filename = $target;
        $row->md5sum = md5_file($target);
        $row->type = isset($manifest['type']) ? $manifest['type'] : 'module';
        $row->version = $version;
        $row->status = 'installed';
        $row->name = isset($manifest['name']) ? $manifest['name'] : $id_name;
        $row->description = isset($manifest['description']) ? $manifest['description'] : '';
        $row->id_name = $id_name;
        $row->manifest = base64_encode(serialize(array(
            'manifest' => $manifest, 'installdefs' => $installdefs, 'upgrade_manifest' => $upgrade_manifest,
        )));
        $row->enabled = 1;
        $row->save();
        $result['steps'][] = 'upgrade_history entry written (listed in Admin -> Module Loader)';
        suitecrm_ext_repair($result);
    } elseif ($action === 'uninstall') {
        $result['dependents'] = suitecrm_ext_dependents($id_name);
        unset($result['dependents'][$id_name]);
        if (!empty($result['dependents'])) {
            throw new RuntimeException("$id_name is required by the installed package(s) "
                . implode(', ', array_keys($result['dependents'])) . '; uninstall them first');
        }
        if (empty($history)) {
            // installed before packages were registered with Module Loader: uninstall with this zip
            $result['warnings'][] = "Module Loader lists no $id_name; uninstalled with the package given";
            $GLOBALS['mi_remove_tables'] = false;
            $mi = new ModuleInstaller();
            $mi->silent = true;
            $mi->uninstall($unzipped);
            $result['steps'][] = 'ModuleInstaller::uninstall (tables kept)';
        } else {
            foreach ($history as $uh) {
                suitecrm_ext_uninstall_row($uh, $result);
            }
        }
        suitecrm_ext_repair($result);
    }
    rmdir_recursive($unzipped);
    $unzipped = null;

    $result['tables'] = array();
    foreach ($tables as $table) {
        $result['tables'][$table] = (bool)$GLOBALS['db']->tableExists($table);
    }
    $result['installed'] = array_map('suitecrm_ext_describe', suitecrm_ext_history($id_name));
    $result['ok'] = true;
} catch (Throwable $e) {
    if ($unzipped !== null && function_exists('rmdir_recursive')) {
        rmdir_recursive($unzipped);
    }
    $result['error'] = get_class($e) . ': ' . $e->getMessage();
    suitecrm_ext_result($result, 2);
}
suitecrm_ext_result($result, 0);
