<?php
// What a Moodle administrator changes by hand during the integration tests, as Moodle's own APIs do it.
//
//   php moodle_admin.php <config.php> capability <role shortname> <capability> allow|inherit
//   php moodle_admin.php <config.php> course <course id> <field> <value>     (visible, groupmode, idnumber...)
//   php moodle_admin.php <config.php> event <course id> <name> <timestart> <duration>   (a course event by hand)
//   php moodle_admin.php <config.php> attendance-status ...                  (reserved for the attendance tests)
//
// Prints one JSON line with what was done.

define('CLI_SCRIPT', true);
$configfile = $argv[1];
$action = $argv[2] ?? '';
$args = array_slice($argv, 3);
require($configfile);
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->dirroot . '/calendar/lib.php');
\core\session\manager::set_user(get_admin());
$system = context_system::instance();

switch ($action) {
    case 'capability':
        [$shortname, $capability, $permission] = $args;
        $roleid = $DB->get_field('role', 'id', ['shortname' => $shortname], MUST_EXIST);
        if ($permission === 'allow') {
            assign_capability($capability, CAP_ALLOW, $roleid, $system->id, true);
        } else {
            unassign_capability($capability, $roleid, $system->id);
        }
        $system->mark_dirty();
        $result = ['role' => (int) $roleid, 'capability' => $capability, 'permission' => $permission];
        break;

    case 'course':
        [$courseid, $field, $value] = $args;
        $course = get_course($courseid);
        update_course((object) ['id' => $course->id, $field => $value]);
        $result = ['course' => (int) $courseid, $field => $value];
        break;

    case 'event':
        [$courseid, $name, $timestart, $duration] = $args;
        $event = calendar_event::create((object) [
            'name' => $name, 'description' => '', 'format' => FORMAT_HTML, 'courseid' => (int) $courseid,
            'groupid' => 0, 'userid' => get_admin()->id, 'modulename' => '', 'instance' => 0,
            'eventtype' => 'course', 'timestart' => (int) $timestart, 'timeduration' => (int) $duration, 'visible' => 1,
        ], false);
        $result = ['event' => (int) $event->id];
        break;

    default:
        fwrite(STDERR, "unknown action: $action\n");
        exit(2);
}
echo json_encode($result, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n";
