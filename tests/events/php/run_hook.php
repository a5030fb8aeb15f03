<?php
/**
 * Runs one method of the generated SuiteCRMExtHook with a stand-in bean, outside SuiteCRM.
 *
 * Usage: php run_hook.php scenario.json
 * The scenario gives the hook file, $sugar_config, the current user, $_REQUEST, the bean (module,
 * field_defs, fetched_row, values) and the method + arguments. Prints one JSON line: the outcome
 * ("returned", "exception" with its message, or "redirect" with the URL and the error messages
 * queued with SugarApplication::appendErrorMessage) and what the hook logged.
 */
define('sugarEntry', true);

$scenario = json_decode(file_get_contents($argv[1]), true);
if (!is_array($scenario)) {
    fwrite(STDERR, "bad scenario file\n");
    exit(2);
}
if (!empty($scenario['api'])) {
    define('ENTRY_POINT_TYPE', 'api');
}
if (!empty($scenario['no_curl'])) {
    define('SUITECRM_EXT_NO_CURL', true);
}

/** The parts of SugarBean the hook touches. */
class SugarBean
{
    public $id;
    public $module_dir = '';
    public $module_name = '';
    public $field_defs = array();
    public $fetched_row = false;
}

/** $GLOBALS['log'] stand-in: remembers what was logged. */
class StubLogger
{
    public $lines = array();

    public function fatal($message)
    {
        $this->lines[] = $message;
    }
}

function finish($doc)
{
    $doc['log'] = $GLOBALS['log']->lines;
    echo json_encode($doc), "\n";
    exit(0);
}

/** The parts of SugarApplication the hook uses; redirect() ends the request like the real one. */
class SugarApplication
{
    public static $messages = array();

    public static function appendErrorMessage($message)
    {
        self::$messages[] = $message;
    }

    public static function redirect($url)
    {
        finish(array('outcome' => 'redirect', 'url' => $url, 'messages' => self::$messages));
    }
}

$GLOBALS['log'] = new StubLogger();
$GLOBALS['sugar_config'] = isset($scenario['sugar_config']) ? $scenario['sugar_config'] : array();
$GLOBALS['current_user'] = (object)array('id' => isset($scenario['user_id']) ? $scenario['user_id'] : '1');
$_REQUEST = isset($scenario['request']) ? $scenario['request'] : array();

require $scenario['hook_file'];

$bean = new SugarBean();
$bean->module_dir = $scenario['bean']['module'];
$bean->module_name = $scenario['bean']['module'];
$bean->field_defs = $scenario['bean']['field_defs'];
$bean->fetched_row = isset($scenario['bean']['fetched_row']) ? $scenario['bean']['fetched_row'] : false;
foreach ($scenario['bean']['values'] as $name => $value) {
    $bean->$name = $value;
}

$hook = new SuiteCRMExtHook();
$method = $scenario['method'];
try {
    $hook->$method($bean, $scenario['event'], isset($scenario['arguments']) ? $scenario['arguments'] : array());
    finish(array('outcome' => 'returned'));
} catch (SuiteCRMExtValidationException $e) {
    finish(array('outcome' => 'exception', 'message' => $e->getMessage()));
}
