<?php
// Stand-in (see tests/realmoodle/standins/README.md): Moodle 5.1 serves public/ and keeps the site's
// config.php one folder up; every script under public/ includes this file to reach it.
$configfile = dirname(__DIR__) . '/config.php';
if (!file_exists($configfile)) {
    header('Location: install.php');
    die;
}
require_once($configfile);
