<?php
// Stub of SuiteCRM's bootstrap: records what the installer script does in $STUB_LOG (JSON lines),
// keeps "existing tables" in $STUB_LOG.tables.
if (!defined('sugarEntry')) {
    die('Not A Valid Entry Point');
}
function stub_log(array $what)
{
    file_put_contents(getenv('STUB_LOG'), json_encode($what) . "\n", FILE_APPEND);
}
function stub_tables()
{
    $f = getenv('STUB_LOG') . '.tables';
    return is_file($f) ? json_decode(file_get_contents($f), true) : array();
}
class User
{
    public $id;
    public $user_name;
    public $is_admin;
    public function getSystemUser()
    {
        if (getenv('STUB_NO_ADMIN')) {
            return null;
        }
        $this->id = '1';
        $this->user_name = 'admin';
        $this->is_admin = '1';
        return $this;
    }
}
class BeanFactory
{
    public static function newBean($module)
    {
        return new User();
    }
}
function is_admin($user)
{
    return $user->is_admin === '1';
}
function return_module_language($language, $module)
{
    return array('LBL_ALL_MODULES' => 'All Modules');
}
class StubDB
{
    public function tableExists($table)
    {
        return in_array($table, stub_tables(), true);
    }

    public function quoted($text)
    {
        return "'" . addslashes($text) . "'";
    }

    /** Only the installer's "SELECT id FROM upgrade_history WHERE id_name = '...'" (or status = '...')
     * is understood. */
    public function query($sql)
    {
        preg_match("/(id_name|status) = '([^']*)'/", $sql, $m);
        $ids = array();
        foreach (UpgradeHistory::rows() as $id => $row) {
            if ($row[$m[1]] === $m[2]) {
                $ids[] = array('id' => $id);
            }
        }
        return new ArrayIterator($ids);
    }

    public function fetchByAssoc($result)
    {
        if (!$result->valid()) {
            return false;
        }
        $row = $result->current();
        $result->next();
        return $row;
    }
}

function mkdir_recursive($path)
{
    return is_dir($path) || mkdir($path, 0775, true);
}

function mk_temp_dir($base_dir)
{
    $dir = tempnam($base_dir, '');
    unlink($dir);
    mkdir($dir);
    return $dir;
}

function rmdir_recursive($path)
{
    if (is_dir($path)) {
        foreach (scandir($path) as $e) {
            if ($e !== '.' && $e !== '..') {
                rmdir_recursive($path . '/' . $e);
            }
        }
        rmdir($path);
    } elseif (is_file($path)) {
        unlink($path);
    }
}

function remove_file_extension($filename)
{
    return substr($filename, 0, strrpos($filename, '.'));
}
$GLOBALS['db'] = new StubDB();
$GLOBALS['sugar_config'] = array('upload_dir' => 'upload/');
if (getenv('STUB_PACKAGE_SCAN')) {
    $GLOBALS['sugar_config']['moduleInstaller'] = array('packageScan' => true);
}
$current_language = 'en_us';
stub_log(array('boot', getcwd()));
echo "some output SuiteCRM prints while booting\n";
if (getenv('STUB_ERROR')) {
    undefined_function_in_stub();
}
if (getenv('STUB_FATAL')) {
    ini_set('memory_limit', '8M');
    $hog = str_repeat('x', 64 * 1024 * 1024);
}
