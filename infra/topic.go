package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// cloudWatch is the service that publishes alarm notifications.
const cloudWatch = "cloudwatch.amazonaws.com"

// newAlarmTopic is the one SNS topic every alarm notifies; operators
// subscribe to it (its ARN is the AlarmTopicArn output).
//
// Encrypted with a customer-managed key, because CloudWatch can publish to
// an encrypted topic only when the key policy lets it, and the AWS-managed
// SNS key's policy cannot be changed. Alarm messages name resources and
// thresholds, not customer data, but the topic is encrypted anyway.
func newAlarmTopic(stack awscdk.Stack) awssns.Topic {
	key := awskms.NewKey(stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("minipay: encrypts the alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		// It encrypts only the topic's messages in flight, nothing kept:
		// deleting the stack may delete it (after the 7-day waiting period).
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		PendingWindow: awscdk.Duration_Days(jsii.Number(7)),
	})
	// What CloudWatch needs to publish to a topic encrypted with this key
	// (the statement AWS documents for CloudWatch alarms and encrypted topics).
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(cloudWatch), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
	}), nil)

	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("minipay alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true), // deny publishing over plain HTTP
	})
	// A topic policy replaces the default one, so CloudWatch is allowed
	// explicitly: only alarms of this account (confused deputy).
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(cloudWatch), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]interface{}{
			"StringEquals": map[string]interface{}{"aws:SourceAccount": stack.Account()},
			"ArnLike": map[string]interface{}{
				"aws:SourceArn": "arn:" + *stack.Partition() + ":cloudwatch:" + *stack.Region() + ":" + *stack.Account() + ":alarm:*",
			},
		},
	}))

	awscdk.NewCfnOutput(stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{
		Value:       topic.TopicArn(),
		Description: jsii.String("SNS topic every minipay alarm notifies: subscribe the on-call here"),
	})
	return topic
}
