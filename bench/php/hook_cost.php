<?php
/**
 * The logic hook's own cost per save, measured inside SuiteCRM (php-cli, no Apache/HTTP noise).
 *
 * Usage: php hook_cost.php SUITECRM_ROOT HOOK_CLASS_FILE HOOK_CLASS N
 * Boots SuiteCRM as the system user, creates one Note, and N times: saves it with logic hooks on and
 * with them off ($bean->processed = true skips SugarBean::call_custom_logic), alternating, and calls
 * the hook's afterSave() on its own. Prints one JSON line of milliseconds:
 * {"save_with_hooks": [...], "save_without_hooks": [...], "after_save_alone": [...]}.
 */
if ($argc < 5) {
    fwrite(STDERR, "usage: php hook_cost.php SUITECRM_ROOT HOOK_CLASS_FILE HOOK_CLASS N\n");
    exit(64);
}
chdir($argv[1]);
define('sugarEntry', true);
require_once 'include/entryPoint.php';
global $current_user;
$current_user = BeanFactory::newBean('Users');
$current_user->getSystemUser();
require_once $argv[2];
$class = $argv[3];
$n = (int)$argv[4];
$note = BeanFactory::newBean('Notes');
$note->name = 'bench hook cost';
$note->save();
$hook = new $class();
$out = array('save_with_hooks' => array(), 'save_without_hooks' => array(), 'after_save_alone' => array());
for ($i = 0; $i < $n; $i++) {
    $bean = BeanFactory::getBean('Notes', $note->id, array(), false);
    $bean->name = "bench with $i";
    $t = microtime(true);
    $bean->save();
    $out['save_with_hooks'][] = (microtime(true) - $t) * 1000;

    $bean = BeanFactory::getBean('Notes', $note->id, array(), false);
    $bean->name = "bench without $i";
    $bean->processed = true;
    $t = microtime(true);
    $bean->save();
    $out['save_without_hooks'][] = (microtime(true) - $t) * 1000;

    $bean = BeanFactory::getBean('Notes', $note->id, array(), false);
    $bean->name = "bench alone $i";
    $t = microtime(true);
    $hook->afterSave($bean, 'after_save', array('isUpdate' => true));
    $out['after_save_alone'][] = (microtime(true) - $t) * 1000;
}
$note->mark_deleted($note->id);
echo 'SUITECRM_EXT_BENCH ' . json_encode($out) . "\n";
