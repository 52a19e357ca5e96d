<?php
// What a Moodle administrator changes by hand during the integration tests, as Moodle's own APIs do it.
//
//   php moodle_admin.php <config.php> capability <role shortname> <capability> allow|inherit
//   php moodle_admin.php <config.php> course <course id> <field> <value>     (visible, groupmode, idnumber...)
//   php moodle_admin.php <config.php> event <course id> <name> <timestart> <duration>   (a course event by hand)
//   php moodle_admin.php <config.php> snapshot                 counts and change times of what push writes
//   php moodle_admin.php <config.php> role <shortname>         the role's capabilities, assignable roles, levels
//   php moodle_admin.php <config.php> preset-valid <file>      whether Moodle accepts the file as a role preset
//   php moodle_admin.php <config.php> take <session id> <taken by> <userid>=<acronym>...   a teacher takes attendance
//   php moodle_admin.php <config.php> activity <course id> <idnumber> <name>   a label with manual completion
//   php moodle_admin.php <config.php> complete <cmid> <userid>...   a teacher marks the activity complete for them
//   php moodle_admin.php <config.php> report <course idnumber> <audience userid> <column>...   a custom report
//        on "Course participants" (active students of that course), columns by id (user:username, ...)
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

    case 'snapshot':
        // What a push could have written: if these are equal before and after, it wrote nothing.
        $result = [];
        foreach (['course', 'course_categories', 'course_modules', 'event', 'user', 'user_enrolments',
                  'role_assignments', 'groups', 'groups_members'] as $table) {
            $result[$table] = (int) $DB->count_records($table);
        }
        if ($DB->get_manager()->table_exists('attendance_sessions')) {
            $result['attendance_sessions'] = (int) $DB->count_records('attendance_sessions');
            $result['attendance_log'] = (int) $DB->count_records('attendance_log');
            $result['attendance_modified'] = (int) $DB->get_field_sql(
                'SELECT COALESCE(SUM(timemodified), 0) FROM {attendance_sessions}');
        }
        $result['course_modified'] = (int) $DB->get_field_sql('SELECT COALESCE(SUM(timemodified), 0) FROM {course}');
        $result['category_modified'] = (int) $DB->get_field_sql(
            'SELECT COALESCE(SUM(timemodified), 0) FROM {course_categories}');
        $result['event_modified'] = (int) $DB->get_field_sql('SELECT COALESCE(SUM(timemodified), 0) FROM {event}');
        $result['user_modified'] = (int) $DB->get_field_sql('SELECT COALESCE(SUM(timemodified), 0) FROM {user}');
        $result['enrol_modified'] = (int) $DB->get_field_sql(
            'SELECT COALESCE(SUM(timemodified), 0) FROM {user_enrolments}');
        break;

    case 'role':
        [$shortname] = $args;
        $role = $DB->get_record('role', ['shortname' => $shortname], '*', MUST_EXIST);
        $caps = $DB->get_fieldset_select('role_capabilities', 'capability',
            'roleid = ? AND contextid = ? AND permission = ?', [$role->id, $system->id, CAP_ALLOW]);
        sort($caps);
        $assign = $DB->get_fieldset_sql('SELECT r.shortname FROM {role_allow_assign} a JOIN {role} r ON r.id = a.allowassign
                                          WHERE a.roleid = ? ORDER BY r.shortname', [$role->id]);
        $levels = array_values(array_map('intval', get_role_contextlevels($role->id)));
        $result = ['id' => (int) $role->id, 'name' => $role->name, 'capabilities' => $caps,
                   'allowassign' => $assign, 'contextlevels' => $levels];
        break;

    case 'preset-valid':
        [$file] = $args;
        $xml = file_get_contents($file);
        $info = core_role_preset::parse_preset($xml);
        $result = ['valid' => core_role_preset::is_valid_preset($xml), 'shortname' => $info['shortname'] ?? null,
                   'capabilities' => count(array_filter($info['permissions'] ?? [], fn($p) => $p == CAP_ALLOW))];
        break;

    case 'take':
        // As the plugin's own "Take attendance" page stores it (the code behind update_user_status).
        require_once($CFG->dirroot . '/mod/attendance/classes/attendance_webservices_handler.php');
        $sessionid = (int) array_shift($args);
        $takenby = (int) array_shift($args);
        $session = $DB->get_record('attendance_sessions', ['id' => $sessionid], '*', MUST_EXIST);
        $statuses = $DB->get_records_menu('attendance_statuses',
            ['attendanceid' => $session->attendanceid, 'deleted' => 0], '', 'acronym, id');
        foreach ($args as $pair) {
            [$userid, $acronym] = explode('=', $pair);
            attendance_handler::update_user_status($sessionid, (int) $userid, $takenby, $statuses[$acronym], '0');
        }
        $result = ['session' => $sessionid, 'taken' => count($args)];
        break;

    case 'activity':
        [$courseid, $idnumber, $name] = $args;
        require_once($CFG->libdir . '/completionlib.php');
        $cm = create_module((object) [
            'modulename' => 'label', 'course' => (int) $courseid, 'section' => 0, 'visible' => 1,
            'introeditor' => ['text' => $name, 'format' => FORMAT_HTML, 'itemid' => 0], 'name' => $name,
            'cmidnumber' => $idnumber,
            'completion' => COMPLETION_TRACKING_MANUAL,
        ]);
        $result = ['cmid' => (int) $cm->coursemodule];
        break;

    case 'complete':
        // As the activity completion report's override does it (moodle/course:overridecompletion).
        require_once($CFG->libdir . '/completionlib.php');
        $cmid = (int) array_shift($args);
        [$course, $cm] = get_course_and_cm_from_cmid($cmid);
        $completion = new completion_info($course);
        foreach ($args as $userid) {
            $completion->update_state($cm, COMPLETION_COMPLETE, (int) $userid, true);
        }
        $result = ['cmid' => $cmid, 'completed' => count($args)];
        break;

    case 'report':
        $idnumber = array_shift($args);
        $audience = (int) array_shift($args);
        $helper = \core_reportbuilder\local\helpers\report::class;
        $report = $helper::create_report((object) [
            'name' => 'lms_sync participants', 'source' => \core_course\reportbuilder\datasource\participants::class,
        ], false);
        $reportid = (int) $report->get('id');
        foreach ($args as $column) {
            $helper::add_report_column($reportid, $column);
        }
        foreach (['course:idnumber', 'enrolment:status', 'role:name'] as $condition) {
            $helper::add_report_condition($reportid, $condition);
        }
        $select = \core_reportbuilder\local\filters\select::class;
        \core_reportbuilder\manager::get_report_from_persistent($report)->set_condition_values([
            'course:idnumber_operator' => \core_reportbuilder\local\filters\text::IS_EQUAL_TO,
            'course:idnumber_value' => $idnumber,
            'enrolment:status_operator' => $select::EQUAL_TO,
            'enrolment:status_value' => \core_user\output\status_field::STATUS_ACTIVE,
            'role:name_operator' => $select::EQUAL_TO,
            'role:name_value' => (int) $DB->get_field('role', 'id', ['shortname' => 'student']),
        ]);
        \core_reportbuilder\reportbuilder\audience\manual::create($reportid, ['users' => [$audience]]);
        $result = ['report' => $reportid, 'columns' => count($args)];
        break;

    default:
        fwrite(STDERR, "unknown action: $action\n");
        exit(2);
}
echo json_encode($result, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES) . "\n";
