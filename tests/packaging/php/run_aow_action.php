<?php
/**
 * Runs a generated AOW action class (suitecrm_ext/packaging/aow_action.php.tmpl) in php-cli with the
 * few SuiteCRM pieces it touches stubbed as SuiteCRM 7.14.6 has them: actionBase (from the scenario's
 * root: modules/AOW_Actions/actions/actionBase.php), SugarBean, BeanFactory::getBean('AOW_Actions'),
 * DBManagerFactory::getInstance() (quoted, getOne: the AOW_Processed lookup), translate,
 * get_select_options_with_id, $GLOBALS['log'].
 *
 * Usage: php run_aow_action.php scenario.json. Scenario: {"root", "class_file", "class",
 * "action_id", "workflow_id", "processed_id", "module", "id", "params", "sugar_config",
 * "app_list_strings", "runs", "edit_line"}. Prints one JSON line: {"results": [run_action's answers],
 * "sql": [queries], "edit": edit_display's HTML, "errors": [logged errors]}.
 */
define('sugarEntry', true);
$scenario = json_decode(file_get_contents($argv[1]), true);
chdir($scenario['root']);

class SugarBean
{
    public $id;
    public $module_dir;
    public $module_name;
}

class StubLog
{
    public $errors = array();
    public function error($text) { $this->errors[] = $text; }
    public function __call($name, $args) {}
}

class StubDb
{
    public $sql = array();
    public $processed = '';
    public function quoted($text) { return "'" . addslashes($text) . "'"; }
    public function getOne($sql) { $this->sql[] = $sql; return $this->processed; }
}

class DBManagerFactory
{
    public static $db;
    public static function getInstance() { return self::$db; }
}

class BeanFactory
{
    public static $workflowId = '';
    public static function getBean($module, $id)
    {
        if ($module !== 'AOW_Actions') {
            return false;
        }
        $bean = new stdClass();
        $bean->id = $id;
        $bean->aow_workflow_id = self::$workflowId;
        return $bean;
    }
}

function translate($key, $module) { return 'T:' . $key; }

function get_select_options_with_id($options, $selected)
{
    $out = '';
    foreach ($options as $k => $v) {
        $out .= '<option value="' . htmlspecialchars($k) . '"' . ((string)$k === (string)$selected ? ' selected' : '')
            . '>' . htmlspecialchars($v) . '</option>';
    }
    return $out;
}

$GLOBALS['log'] = new StubLog();
$GLOBALS['sugar_config'] = $scenario['sugar_config'];
$GLOBALS['app_list_strings'] = $scenario['app_list_strings'];
$GLOBALS['current_user'] = (object)array('id' => '1');
DBManagerFactory::$db = new StubDb();
DBManagerFactory::$db->processed = $scenario['processed_id'];
BeanFactory::$workflowId = $scenario['workflow_id'];

require $scenario['class_file'];
$class = $scenario['class'];
$action = new $class($scenario['action_id']);
$bean = new SugarBean();
$bean->id = $scenario['id'];
$bean->module_dir = $scenario['module'];
$bean->module_name = $scenario['module'];

$results = array();
for ($i = 0; $i < (int)$scenario['runs']; $i++) {
    $results[] = $action->run_action($bean, $scenario['params'], true);
}
$edit = $action->edit_display((int)$scenario['edit_line'], $bean, $scenario['params']);
print json_encode(array('results' => $results, 'sql' => DBManagerFactory::$db->sql, 'edit' => $edit,
                        'errors' => $GLOBALS['log']->errors)) . "\n";
