<?php
/**
 * Loads a built (unzipped) package the way SuiteCRM would and checks its arrays.
 * Usage: php check_package.php UNZIPPED_DIR
 * Prints JSON {"problems": [...], "facts": {...}}; exit 0.
 *
 * Checks: manifest + installdefs keys; every copied module's bean class, vardefs table and fields;
 * every relationship's metadata and the link fields on both sides; every dropdown used exists in
 * every language; every label key used is defined in every language shipped.
 */

define('sugarEntry', true);

// --- minimal SuiteCRM stand-ins, so generated files load outside SuiteCRM -------------------------
class Basic
{
}
class VardefManager
{
    public static $calls = array();
    public static function createVardef($module, $object, $templates)
    {
        self::$calls[] = array($module, $object, $templates);
    }
}
class ACLController
{
    public static function checkAccess($module, $action, $isOwner)
    {
        return true;
    }
}

$dir = rtrim($argv[1], '/');
$problems = array();
$facts = array();
$languages = array('en_us', 'ru_ru');
// labels SuiteCRM's basic / assignable templates define for every module
$template_labels = array('LBL_NAME', 'LBL_DATE_MODIFIED', 'LBL_DATE_ENTERED', 'LBL_ASSIGNED_TO_NAME',
    'LBL_ASSIGNED_TO', 'LBL_CURRENT_USER_FILTER', 'LBL_DESCRIPTION', 'LBL_CREATED', 'LBL_MODIFIED_NAME');

function from_path($dir, $from)
{
    return str_replace('<basepath>', $dir, $from);
}

// --- manifest ------------------------------------------------------------------------------------
$manifest = null;
$installdefs = null;
include $dir . '/manifest.php';
if (!is_array($manifest) || !is_array($installdefs)) {
    echo json_encode(array('problems' => array('manifest.php defines no $manifest/$installdefs'), 'facts' => array()));
    exit(0);
}
foreach (array('name', 'version', 'acceptable_sugar_versions', 'type', 'is_uninstallable', 'published_date', 'author', 'description') as $k) {
    if (!array_key_exists($k, $manifest)) {
        $problems[] = "manifest lacks $k";
    }
}
if ($manifest['type'] !== 'module') {
    $problems[] = 'manifest type is not module';
}
$sugar_version = '6.5.25'; // what SuiteCRM 7.14.6 reports
$version_ok = false;
foreach ($manifest['acceptable_sugar_versions']['regex_matches'] as $re) {
    if (preg_match("/$re/", $sugar_version)) {
        $version_ok = true;
    }
}
if (!$version_ok) {
    $problems[] = 'acceptable_sugar_versions does not accept 6.5.25 (SuiteCRM 7)';
}
foreach (array('id', 'beans', 'copy', 'language', 'relationships', 'layoutdefs', 'vardefs', 'custom_fields', 'logic_hooks') as $k) {
    if (!array_key_exists($k, $installdefs)) {
        $problems[] = "installdefs lacks $k";
    }
}
$facts['installdefs_keys'] = array_keys($installdefs);

// every path the installdefs name exists
foreach (array('copy', 'language', 'layoutdefs', 'vardefs') as $k) {
    foreach ($installdefs[$k] as $entry) {
        if (!file_exists(from_path($dir, $entry['from']))) {
            $problems[] = "installdefs $k names a missing file " . $entry['from'];
        }
    }
}
foreach ($installdefs['relationships'] as $entry) {
    if (!is_file(from_path($dir, $entry['meta_data']))) {
        $problems[] = 'relationship meta_data missing: ' . $entry['meta_data'];
    }
}

// --- languages: which keys each target module / application gets ----------------------------------
$mod_labels = array();   // module => lang => key => text
$app_lists = array();    // lang => list name => array
foreach ($installdefs['language'] as $entry) {
    $mod_strings = array();
    $app_list_strings = array();
    include from_path($dir, $entry['from']);
    if ($entry['to_module'] === 'application') {
        $app_lists[$entry['language']] = $app_list_strings;
    } else {
        $mod_labels[$entry['to_module']][$entry['language']] = $mod_strings;
    }
}

$dictionary = array();
$used_labels = array();  // module => list of keys
$used_lists = array();
$view_fields = array();  // module => list of (view, field) checked once relationship fields are known

// --- beans ---------------------------------------------------------------------------------------
$facts['beans'] = array();
foreach ($installdefs['beans'] as $bean) {
    $module = $bean['module'];
    $base = $dir . '/SugarModules/modules/' . $module;
    require_once $base . '/' . $module . '.php';
    if (!class_exists($bean['class'])) {
        $problems[] = "bean class {$bean['class']} not defined by {$bean['path']}";
        continue;
    }
    $obj = new $bean['class']();
    include $base . '/vardefs.php';
    $def = $dictionary[$obj->object_name];
    if ($def['table'] !== $obj->table_name) {
        $problems[] = "$module: vardefs table {$def['table']} differs from the bean's {$obj->table_name}";
    }
    $facts['beans'][$module] = array('table' => $def['table'], 'fields' => array_keys($def['fields']));
    foreach ($def['fields'] as $name => $f) {
        if ($f['name'] !== $name) {
            $problems[] = "$module.$name: name key mismatch";
        }
        if (!property_exists($obj, $name)) {
            $problems[] = "$module: bean lacks property $name";
        }
        $used_labels[$module][] = $f['vname'];
        if (isset($f['options'])) {
            $used_lists[] = $f['options'];
        }
    }
    foreach ($languages as $lang) {
        $mod_strings = array();
        include $base . "/language/$lang.lang.php";
        $mod_labels[$module][$lang] = array_merge(isset($mod_labels[$module][$lang]) ? $mod_labels[$module][$lang] : array(), $mod_strings);
        if (!isset($app_lists[$lang]['moduleList'][$module])) {
            $problems[] = "$module missing from moduleList in $lang";
        }
    }
    foreach (array('LBL_MODULE_NAME', 'LNK_NEW_RECORD', 'LNK_LIST') as $key) {
        $used_labels[$module][] = $key;
    }
    $viewdefs = array();
    $listViewDefs = array();
    $searchdefs = array();
    $searchFields = array();
    $subpanel_layout = array();
    $module_menu = array();
    $mod_strings = $mod_labels[$module]['en_us'];
    $app_strings = array('LBL_IMPORT' => 'Import');
    foreach (array('editviewdefs', 'detailviewdefs', 'listviewdefs', 'searchdefs', 'SearchFields', 'subpanels/default') as $f) {
        include $base . "/metadata/$f.php";
    }
    include $base . '/Menu.php';
    foreach (array('EditView', 'DetailView') as $view) {
        foreach ($viewdefs[$module][$view]['panels'] as $panel) {
            foreach ($panel as $row) {
                foreach ($row as $cell) {
                    $name = is_array($cell) ? $cell['name'] : $cell;
                    $view_fields[$module][] = array($view, $name);
                }
            }
        }
    }
    foreach ($listViewDefs[$module] as $col => $c) {
        $used_labels[$module][] = $c['label'];
    }
    if (count($module_menu) < 2) {
        $problems[] = "$module: Menu.php defines no menu";
    }
    $facts['beans'][$module]['vardef_templates'] = VardefManager::$calls[count(VardefManager::$calls) - 1][2];
}

// --- relationships -------------------------------------------------------------------------------
$ext_fields = array();  // module => field name => def (from relationship vardefs)
foreach ($installdefs['vardefs'] as $entry) {
    $before = $dictionary;
    include from_path($dir, $entry['from']);
    foreach ($dictionary as $object => $d) {
        foreach ($d['fields'] as $name => $f) {
            if (!isset($before[$object]['fields'][$name]) || $before[$object]['fields'][$name] !== $f) {
                $ext_fields[$entry['to_module']][$name] = $f;
                $used_labels[$entry['to_module']][] = $f['vname'];
            }
        }
    }
}
$facts['relationships'] = array();
foreach ($installdefs['relationships'] as $entry) {
    include from_path($dir, $entry['meta_data']);
    $name = basename($entry['meta_data'], 'MetaData.php');
    $meta = $dictionary[$name];
    $rel = $meta['relationships'][$name];
    $facts['relationships'][$name] = array('table' => $meta['table'], 'lhs' => $rel['lhs_module'], 'rhs' => $rel['rhs_module'],
        'type' => $meta['true_relationship_type']);
    $columns = array();
    foreach ($meta['fields'] as $f) {
        $columns[] = $f['name'];
    }
    foreach (array('join_key_lhs', 'join_key_rhs') as $k) {
        if (!in_array($rel[$k], $columns, true)) {
            $problems[] = "$name: $k {$rel[$k]} is not a join-table column";
        }
    }
    foreach (array('lhs_module', 'rhs_module') as $side) {
        $m = $rel[$side];
        if (!isset($ext_fields[$m][$name]) || $ext_fields[$m][$name]['type'] !== 'link' || $ext_fields[$m][$name]['relationship'] !== $name) {
            $problems[] = "$name: no link field on the $side side ($m)";
        }
    }
}
foreach ($installdefs['layoutdefs'] as $entry) {
    $layout_defs = array();
    include from_path($dir, $entry['from']);
    foreach ($layout_defs[$entry['to_module']]['subpanel_setup'] as $key => $sub) {
        $used_labels[$entry['to_module']][] = $sub['title_key'];
        if (!isset($ext_fields[$entry['to_module']][$sub['get_subpanel_data']])) {
            $problems[] = "subpanel $key on {$entry['to_module']} reads link {$sub['get_subpanel_data']}, which that module lacks";
        }
    }
}

$basic_fields = array('name', 'description', 'assigned_user_name', 'date_entered', 'date_modified', 'created_by_name', 'modified_by_name');
foreach ($view_fields as $module => $pairs) {
    foreach ($pairs as $pair) {
        list($view, $name) = $pair;
        if (!in_array($name, $facts['beans'][$module]['fields'], true) && !isset($ext_fields[$module][$name]) && !in_array($name, $basic_fields, true)) {
            $problems[] = "$module $view shows unknown field $name";
        }
    }
}

// --- custom fields -------------------------------------------------------------------------------
foreach ($installdefs['custom_fields'] as $f) {
    $used_labels[$f['module']][] = $f['label'];
    if (in_array($f['type'], array('enum', 'multienum'), true)) {
        $used_lists[] = $f['ext1'];
    }
    if (substr($f['name'], -2) !== '_c') {
        $problems[] = "custom field {$f['module']}.{$f['name']} does not end in _c";
    }
}
$facts['custom_fields'] = count($installdefs['custom_fields']);

// --- dropdowns and labels ------------------------------------------------------------------------
foreach (array_unique($used_lists) as $list) {
    foreach ($languages as $lang) {
        if (!isset($app_lists[$lang][$list]) || !is_array($app_lists[$lang][$list])) {
            $problems[] = "dropdown $list is used but not defined in $lang";
        }
    }
}
if (isset($app_lists['en_us']) && isset($app_lists['ru_ru'])) {
    foreach ($app_lists['en_us'] as $list => $options) {
        if ($list !== 'moduleList' && $list !== 'moduleListSingular' && array_keys($options) !== array_keys($app_lists['ru_ru'][$list])) {
            $problems[] = "dropdown $list has different keys in en_us and ru_ru";
        }
    }
}
foreach ($used_labels as $module => $keys) {
    foreach (array_unique($keys) as $key) {
        if (in_array($key, $template_labels, true)) {
            continue;
        }
        foreach ($languages as $lang) {
            if (!isset($mod_labels[$module][$lang][$key]) || $mod_labels[$module][$lang][$key] === '') {
                $problems[] = "label $key of $module is not defined in $lang";
            }
        }
    }
}
$facts['logic_hooks'] = $installdefs['logic_hooks'];
echo json_encode(array('problems' => $problems, 'facts' => $facts));
