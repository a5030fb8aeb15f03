<?php
// Stub ModuleInstaller: reads the package like the real one and notes the tables its beans and
// relationships need (the repair step "creates" them).
class ModuleInstaller
{
    public $silent = false;

    public function install($base_dir, $is_upgrade = false, $previous_version = '')
    {
        $this->record($is_upgrade ? 'upgrade from ' . $previous_version : 'install', $base_dir);
    }

    public function uninstall($base_dir)
    {
        $this->record('uninstall', $base_dir);
    }

    private function record($action, $base_dir)
    {
        global $current_user;
        $manifest = null;
        $installdefs = null;
        include $base_dir . '/manifest.php';
        stub_log(array($action, $base_dir, $this->silent, $installdefs['id'], $current_user->user_name));
        if (getenv('STUB_FAIL')) {
            throw new Exception('disk full');
        }
        $tables = array();
        foreach ($installdefs['beans'] as $bean) {
            $dictionary = array();
            include $base_dir . '/SugarModules/modules/' . $bean['module'] . '/vardefs.php';
            $tables[] = $dictionary[$bean['class']]['table'];
        }
        foreach ($installdefs['relationships'] as $rel) {
            $dictionary = array();
            include str_replace('<basepath>', $base_dir, $rel['meta_data']);
            foreach ($dictionary as $meta) {
                $tables[] = $meta['table'];
            }
        }
        foreach ($installdefs['custom_fields'] as $field) {
            $tables[] = strtolower($field['module']) . '_cstm';
        }
        $GLOBALS['stub_pending'] = $action !== 'uninstall' ? $tables : array();
    }
}
class VardefManager
{
    public static function createVardef($module, $object, $templates)
    {
    }
}
