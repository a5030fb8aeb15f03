<?php
/**
 * Runs one method of the generated SuiteCRMExtHook with a stand-in bean, outside SuiteCRM.
 *
 * Usage: php run_hook.php scenario.json   (php -d extension=... or -n to run without curl)
 * The scenario gives the hook file, $sugar_config, the current user, $_REQUEST, the bean (module,
 * field_defs, fetched_row, values), the method + arguments, how often to call it (repeat), and the
 * entry point (api: "", rest, soap or v8). Prints one JSON line: the outcome ("returned",
 * "exception" with its message, "redirect" with the URL and the error messages queued with
 * SugarApplication::appendErrorMessage, or "ended": the request ended through sugar_cleanup(true)
 * with the body the hook answered) and what the hook logged.
 */
define('sugarEntry', true);

$scenario = json_decode(file_get_contents($argv[1]), true);
if (!is_array($scenario)) {
    fwrite(STDERR, "bad scenario file\n");
    exit(2);
}
$api = isset($scenario['api']) ? $scenario['api'] : '';

/** Stand-ins for the web service entry points the hook recognises (see deny() in the hook). */
class SugarRestService
{
}

class SugarSoapService
{
    public $in_service = true;
}

/** nusoap's fault class: serialize() here writes its parts as JSON for the test to read. */
class nusoap_fault
{
    public $parts;

    public function __construct($faultcode, $faultactor = '', $faultstring = '', $faultdetail = '')
    {
        $this->parts = array('faultcode' => $faultcode, 'faultstring' => $faultstring, 'detail' => $faultdetail);
    }

    public function serialize()
    {
        return json_encode($this->parts);
    }
}

if ($api === 'rest') {
    $GLOBALS['service_object'] = new SugarRestService();
} elseif ($api === 'soap') {
    $GLOBALS['service_object'] = new SugarSoapService();
} elseif ($api === 'v8') {
    require __DIR__ . '/slim_app.php';
    $GLOBALS['app'] = new \Slim\App();
}

/** SuiteCRM's sugar_cleanup(true) ends the request; here it reports what the hook answered. */
function sugar_cleanup($exit = false)
{
    $body = ob_get_level() > 0 ? ob_get_clean() : '';
    $so = isset($GLOBALS['service_object']) ? $GLOBALS['service_object'] : null;
    finish(array('outcome' => 'ended', 'body' => $body,
                 'in_service' => is_object($so) && isset($so->in_service) ? $so->in_service : null));
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

    public function error($message)
    {
        $this->lines[] = $message;
    }

    public function warn($message)
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

// hook_files: [[file, class], ...] -- the hooks of several packages on one module, run in turn
$hookFiles = isset($scenario['hook_files']) ? $scenario['hook_files']
    : array(array($scenario['hook_file'], 'SuiteCRMExtHook'));
foreach ($hookFiles as $pair) {
    require $pair[0];
}

$bean = new SugarBean();
$bean->module_dir = $scenario['bean']['module'];
$bean->module_name = $scenario['bean']['module'];
$bean->field_defs = $scenario['bean']['field_defs'];
$bean->fetched_row = isset($scenario['bean']['fetched_row']) ? $scenario['bean']['fetched_row'] : false;
foreach ($scenario['bean']['values'] as $name => $value) {
    $bean->$name = $value;
}

$hooks = array();
foreach ($hookFiles as $pair) {
    $hooks[] = new $pair[1]();
}
$method = $scenario['method'];
$repeat = isset($scenario['repeat']) ? (int)$scenario['repeat'] : 1;
ob_start();
try {
    for ($i = 0; $i < $repeat; $i++) {
        foreach ($hooks as $hook) {
            $hook->$method($bean, $scenario['event'], isset($scenario['arguments']) ? $scenario['arguments'] : array());
        }
    }
    ob_end_clean();
    finish(array('outcome' => 'returned'));
} catch (SuiteCRMExtValidationException $e) {
    ob_end_clean();
    finish(array('outcome' => 'exception', 'message' => $e->getMessage()));
}
