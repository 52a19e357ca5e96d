<?php
// Stand-in for the Boost theme's config.php (see tests/realmoodle/standins/README.md): its page
// layouts (the files in layout/) and the SCSS callbacks of its lib.php.

defined('MOODLE_INTERNAL') || die();

require_once(__DIR__ . '/lib.php');

$side = ['regions' => ['side-pre'], 'defaultregion' => 'side-pre'];
$THEME->name = 'boost';
$THEME->parents = [];
$THEME->sheets = [];
$THEME->editor_sheets = [];
$THEME->editor_scss = ['editor'];
$THEME->usefallback = true;
$THEME->scss = function($theme) {
    return theme_boost_get_main_scss_content($theme);
};
$THEME->prescsscallback = 'theme_boost_get_pre_scss';
$THEME->extrascsscallback = 'theme_boost_get_extra_scss';
$THEME->precompiledcsscallback = 'theme_boost_get_precompiled_css';
$THEME->layouts = [
    'base' => ['file' => 'drawers.php', 'regions' => []],
    'standard' => ['file' => 'drawers.php'] + $side,
    'course' => ['file' => 'drawers.php', 'options' => ['langmenu' => true]] + $side,
    'coursecategory' => ['file' => 'drawers.php'] + $side,
    'incourse' => ['file' => 'drawers.php'] + $side,
    'frontpage' => ['file' => 'drawers.php', 'options' => ['navbar' => true]] + $side,
    'admin' => ['file' => 'drawers.php'] + $side,
    'mycourses' => ['file' => 'drawers.php', 'options' => ['nonavbar' => true]] + $side,
    'mydashboard' => ['file' => 'drawers.php', 'options' => ['nonavbar' => true, 'langmenu' => true]] + $side,
    'mypublic' => ['file' => 'drawers.php'] + $side,
    'login' => ['file' => 'login.php', 'regions' => [], 'options' => ['langmenu' => true]],
    'popup' => ['file' => 'columns1.php', 'regions' => [],
        'options' => ['nofooter' => true, 'nonavbar' => true,
            'activityheader' => ['notitle' => true, 'nocompletion' => true, 'nodescription' => true]]],
    'frametop' => ['file' => 'columns1.php', 'regions' => [],
        'options' => ['nofooter' => true, 'nocoursefooter' => true, 'activityheader' => ['nocompletion' => true]]],
    'embedded' => ['file' => 'embedded.php', 'regions' => []],
    'maintenance' => ['file' => 'maintenance.php', 'regions' => []],
    'print' => ['file' => 'columns1.php', 'regions' => [],
        'options' => ['nofooter' => true, 'nonavbar' => false, 'noactivityheader' => true]],
    'redirect' => ['file' => 'embedded.php', 'regions' => []],
    'report' => ['file' => 'drawers.php'] + $side,
    'secure' => ['file' => 'secure.php'] + $side,
];
$THEME->enable_dock = false;
$THEME->yuicssmodules = [];
$THEME->rendererfactory = 'theme_overridden_renderer_factory';
$THEME->requiredblocks = '';
$THEME->addblockposition = BLOCK_ADDBLOCK_POSITION_FLATNAV;
$THEME->iconsystem = \core\output\icon_system::FONTAWESOME;
$THEME->haseditswitch = true;
$THEME->usescourseindex = true;
$THEME->activityheaderconfig = ['notitle' => true];
$THEME->removedprimarynavitems = [];
