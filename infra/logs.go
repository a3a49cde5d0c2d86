package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// defaultLogRetentionDays: a payments service keeps its audit trail a year
// (PCI DSS 10.5.1: twelve months, three of them immediately available;
// CloudWatch Logs keeps all of it queryable).
const defaultLogRetentionDays = 365

// logRetentionDays are the values CloudWatch Logs accepts for a log
// group's RetentionInDays.
var logRetentionDays = []string{"1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545",
	"731", "1096", "1827", "2192", "2557", "2922", "3288", "3653"}

// retainLogs adds the LogRetentionDays parameter and sets every given log
// group's retention from it: the functions' (routes, jobs and workers) and
// the access log.
func retainLogs(stack awscdk.Stack, groups ...awslogs.LogGroup) awscdk.CfnParameter {
	days := awscdk.NewCfnParameter(stack, jsii.String("LogRetentionDays"), &awscdk.CfnParameterProps{
		Type:    jsii.String("Number"),
		Default: jsii.String(strconv.Itoa(defaultLogRetentionDays)), // as AllowedValues spells it

		AllowedValues: jsii.Strings(logRetentionDays...),
		Description: jsii.String("Days the function, job and access logs are kept (default a year, the audit " +
			"trail a payments service keeps; one of CloudWatch Logs' retention values)"),
	})
	for _, g := range groups {
		g.Node().DefaultChild().(awslogs.CfnLogGroup).AddPropertyOverride(jsii.String("RetentionInDays"), days.ValueAsNumber())
	}
	return days
}
