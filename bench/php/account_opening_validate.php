<?php
/**
 * account_opening's before-save validation through the real logic hook, timed inside SuiteCRM (php-cli,
 * no Apache in the way): the hook's beforeSave() posts the change to the sidecar's /validate and waits.
 *
 * Usage: php account_opening_validate.php SUITECRM_ROOT HOOK_CLASS_FILE HOOK_CLASS APP_ID USER_ID N
 * Boots SuiteCRM as USER_ID (the acting user the hook reports), loads the application N times and calls
 * beforeSave() for three changes (none is saved): a description edit (allowed: no flow rule), a submit
 * Draft -> Security review (allowed for a personal manager after the requisites checks) and a move the
 * flow has no transition for (refused: the hook throws the refusal). Prints one JSON line of milliseconds:
 * {"edit": [...], "submit": [...], "refused": [...], "verdicts": {"edit": ["allowed", ...], ...}}.
 */
if ($argc < 7) {
    fwrite(STDERR, "usage: php account_opening_validate.php SUITECRM_ROOT HOOK_CLASS_FILE HOOK_CLASS APP_ID USER_ID N\n");
    exit(64);
}
chdir($argv[1]);
define('sugarEntry', true);
require_once 'include/entryPoint.php';
global $current_user;
$current_user = BeanFactory::getBean('Users', $argv[5]);
require_once $argv[2];
$class = $argv[3];
$app_id = $argv[4];
$n = (int)$argv[6];
$hook = new $class();
$changes = array(
    'edit' => array('description' => null),
    'submit' => array('status' => 'security_review'),
    'refused' => array('status' => 'opened'),
);
$out = array('edit' => array(), 'submit' => array(), 'refused' => array(), 'verdicts' => array());
for ($i = 0; $i < $n; $i++) {
    foreach ($changes as $label => $fields) {
        // a fresh bean each time: BeanFactory::getBean hands out one cached object per id, which would
        // keep the previous change's status
        $bean = BeanFactory::newBean('ao_Applications');
        $bean->retrieve($app_id);
        foreach ($fields as $name => $value) {
            $bean->$name = $value === null ? "bench edit $i" : $value;
        }
        $verdict = 'allowed';
        $t = microtime(true);
        try {
            $hook->beforeSave($bean, 'before_save', array());
        } catch (Exception $e) {
            $verdict = 'refused: ' . $e->getMessage();
        }
        $out[$label][] = (microtime(true) - $t) * 1000;
        $out['verdicts'][$label][] = $verdict;
    }
}
echo 'SUITECRM_EXT_BENCH ' . json_encode($out) . "\n";
