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
}
$GLOBALS['db'] = new StubDB();
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
